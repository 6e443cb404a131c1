"""The KubeRay manifests in cluster/kuberay/ name things that exist.

No Kubernetes here, and the CRD schemas are not vendored: checked are the fields KubeRay
requires of a RayService/RayCluster (apiVersion ray.io/v1, head group, worker groups with a
name and pod template), that the Serve application's import path imports and its args are
accepted by the builder's checks, that the recorder resource the app asks for is one the
worker group offers, that the job command names modules and flags `cloudrec serve` has, and
that every pod reads the secret that carries the customers and the resourceId key."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from cloudrec.cli import _parser
from cloudrec.cluster.serve_app import AppSettings

KUBERAY = Path(__file__).resolve().parents[3] / "cluster" / "kuberay"
SECRETS = {"CLOUDREC_CUSTOMERS": "c:s:a", "CLOUDREC_RESOURCE_KEY": "k"}


def load(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((KUBERAY / name).read_text()) if doc]


def cluster_spec(name: str) -> dict[str, Any]:
    [doc] = load(name)
    assert doc["apiVersion"] == "ray.io/v1"
    return dict(doc["spec"]["rayClusterConfig"] if doc["kind"] == "RayService" else doc["spec"])


def pods(spec: dict[str, Any]) -> list[dict[str, Any]]:
    groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    return [group["template"]["spec"] for group in groups]


def offered(spec: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for group in spec["workerGroupSpecs"]:
        assert group["groupName"] and group["minReplicas"] <= group["replicas"]
        if raw := group["rayStartParams"].get("resources"):
            names |= set(json.loads(json.loads(raw)))  # KubeRay's quoted JSON
    return names


@pytest.mark.parametrize("name", ["rayservice.yaml", "raycluster.yaml"])
def test_every_pod_runs_the_image_with_the_secrets_and_the_shared_workdir(name: str) -> None:
    spec = cluster_spec(name)
    assert spec["rayVersion"] == importlib.import_module("ray").__version__
    [secret, claim] = load("secret.yaml")
    assert set(SECRETS) <= set(secret["stringData"])
    for pod in pods(spec):
        [container] = pod["containers"]
        assert container["image"] == "cloudrec:latest"
        assert {"secretRef": {"name": secret["metadata"]["name"]}} in container["envFrom"]
        volume = next(v for v in pod["volumes"] if v["name"] == "work")
        assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert "recorder" in offered(spec)


def test_the_serve_application_imports_and_its_args_pass_the_builders_checks() -> None:
    [service] = load("rayservice.yaml")
    [app] = yaml.safe_load(service["spec"]["serveConfigV2"])["applications"]
    module, _, attr = app["import_path"].partition(":")
    assert callable(getattr(importlib.import_module(module), attr))
    settings = AppSettings.from_args(app["args"], SECRETS)
    assert settings.replicas == 2 and settings.events.startswith("kafka://")
    assert settings.recorder_resource in offered(cluster_spec("rayservice.yaml"))
    with pytest.raises(ValueError, match="CLOUDREC_RESOURCE_KEY"):
        AppSettings.from_args(app["args"], {"CLOUDREC_CUSTOMERS": "c:s:a"})
    with pytest.raises(ValueError, match="unknown"):
        AppSettings.from_args({**app["args"], "secret_key": "x"}, SECRETS)


def test_the_job_command_in_the_raycluster_notes_is_a_valid_cloudrec_serve() -> None:
    text = (KUBERAY / "raycluster.yaml").read_text()
    command = re.search(r"python -m (cloudrec\.cluster\.job)(.*?)\n#? *\(", text, re.S)
    assert command is not None
    importlib.import_module(command.group(1))
    flags = command.group(2).replace("\\", " ").replace("#", " ").split()
    args = _parser().parse_args(["serve", *flags])
    assert args.recorder_resource == "recorder" and args.storage == "s3://"
