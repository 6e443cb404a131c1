"""The REST API as a Ray Serve application: several replicas in front of one controller.

    serve run cloudrec.cluster.serve_app:build events=kafka://BROKER:9092 storage=s3:// \\
        s3_endpoint=http://S3:9000 replicas=2

or a KubeRay `RayService` naming the same import path (`cluster/kuberay/rayservice.yaml`).
Each replica is a FastAPI ingress over its own `RecordingService`: it joins the one detached
controller (`get_if_exists`) and reads the event log for `query`, so any replica answers for
any session (read-your-writes by log position, as with one server). The settings are the
`cloudrec serve` flags, as strings in the application's `args`; the secrets are not, since Serve
shows its config: the customers come from CLOUDREC_CUSTOMERS (`ID:SECRET:APPID;...`) and the
key that signs resourceIds from CLOUDREC_RESOURCE_KEY, in the nodes' environment (a Kubernetes
secret), the same on every replica. Webhook callbacks are not delivered by the replicas (each
would deliver them again): run `cloudrec webhooks` once beside them. Rate limits are per
replica.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudrec.cluster.options import Placement

ARGS = ("events", "storage", "s3_endpoint", "backup", "workdir", "slice_seconds",
        "recorder_resource", "replicas", "rate_limit")


@dataclass(frozen=True)
class AppSettings:
    """The application's `args`, checked before any replica starts."""

    events: str
    storage: str
    s3_endpoint: str | None = None
    backup: str | None = None
    workdir: Path = Path(".cloudrec/work")
    slice_seconds: float = 15.0
    recorder_resource: str | None = None
    replicas: int = 2
    rate_limit: float = 10.0

    @classmethod
    def from_args(cls, args: Mapping[str, Any], env: Mapping[str, str] = os.environ
                  ) -> AppSettings:
        unknown = sorted(set(args) - set(ARGS))
        if unknown:
            raise ValueError(f"unknown cloudrec Serve args {unknown}; known: {list(ARGS)}")
        if "events" not in args or "storage" not in args:
            raise ValueError("the Serve app needs events= and storage= (shared by all nodes)")
        if not env.get("CLOUDREC_CUSTOMERS"):
            raise ValueError("CLOUDREC_CUSTOMERS (ID:SECRET:APPID;...) is not set on the nodes")
        replicas = int(args.get("replicas", 2))
        if replicas > 1 and not env.get("CLOUDREC_RESOURCE_KEY"):
            raise ValueError("CLOUDREC_RESOURCE_KEY must be set on the nodes: every replica "
                             "signs and checks resourceIds with it")
        return cls(events=str(args["events"]), storage=str(args["storage"]),
                   s3_endpoint=args.get("s3_endpoint"), backup=args.get("backup"),
                   workdir=Path(args.get("workdir", ".cloudrec/work")),
                   slice_seconds=float(args.get("slice_seconds", 15.0)),
                   recorder_resource=args.get("recorder_resource") or None,
                   replicas=replicas, rate_limit=float(args.get("rate_limit", 10.0)))


def asgi_app(settings: AppSettings) -> Any:
    """What each replica serves: built on the replica, which is already in the cluster."""
    from cloudrec.api.app import create_app
    from cloudrec.runtime import DEFAULT_BACKUP, RuntimeSettings, start_runtime
    from cloudrec.server import api_settings, parse_customer

    runtime = start_runtime(RuntimeSettings(
        events_url=settings.events, storage_url=settings.storage, workdir=settings.workdir,
        slice_seconds=settings.slice_seconds, s3_endpoint=settings.s3_endpoint,
        backup_url=settings.backup or DEFAULT_BACKUP, deliver_webhooks=False,
        placement=Placement(recorder_resource=settings.recorder_resource)))
    customers = [parse_customer(c) for c in os.environ["CLOUDREC_CUSTOMERS"].split(";") if c]
    return create_app(runtime.service, api_settings(customers, settings.rate_limit),
                      runtime.service)


def build(args: dict[str, Any]) -> Any:
    """The application builder `serve run` and a RayService's `import_path` name."""
    from ray import serve

    settings = AppSettings.from_args(args)

    @serve.deployment(name="cloudrec-api", num_replicas=settings.replicas,
                      ray_actor_options={"num_cpus": 0.1}, max_ongoing_requests=64)
    @serve.ingress(lambda: asgi_app(settings))
    class CloudrecApi:
        """The REST API: every route is the FastAPI app's."""

    return CloudrecApi.bind()  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    """Run the application on an existing cluster from a driver of its own (what a RayService
    does on Kubernetes): `python -m cloudrec.cluster.serve_app --ray-address HEAD:6379
    --http-port 8000 events=kafka://... storage=s3:// replicas=2`. Blocks until Ctrl-C."""
    import argparse

    from ray import serve

    from cloudrec.cluster.connect import connect

    parser = argparse.ArgumentParser(prog="python -m cloudrec.cluster.serve_app")
    parser.add_argument("--ray-address", default=None, help="default: RAY_ADDRESS")
    parser.add_argument("--http-host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("args", nargs="*", metavar="KEY=VALUE", help=f"one of {list(ARGS)}")
    options = parser.parse_args(argv)
    args = dict(arg.split("=", 1) for arg in options.args)
    app = build(args)  # its checks before anything starts
    connect(options.ray_address or os.environ.get("RAY_ADDRESS") or "auto")
    # one HTTP proxy, on the head (every node's would need a port of its own on one machine)
    serve.start(proxy_location="HeadOnly",
                http_options={"host": options.http_host, "port": options.http_port})
    serve.run(app, name="cloudrec", route_prefix="/", blocking=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
