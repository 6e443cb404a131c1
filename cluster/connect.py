"""Connecting to Ray: the cluster named by `address` (or RAY_ADDRESS), else a local one.

Ray 2.60 starts clusters with token authentication on (`ray start --head` writes the token to
~/.ray/auth_token) and refuses a driver that does not present it, unless the driver's
environment says RAY_AUTH_MODE=token. A driver in token mode also joins a cluster without
authentication, so joining an existing cluster turns token mode on whenever a token is at hand
and the user has not chosen a mode.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path

import ray

from cloudrec.cluster.options import NAMESPACE


def connect(address: str | None = None, num_cpus: int | None = None) -> None:
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    log_to_driver = os.environ.get("CLOUDREC_RAY_LOGS") == "1"
    if address:
        if use_token_if_present(os.environ):
            _reread_ray_config()
        ray.init(address=address, namespace=NAMESPACE, logging_level=logging.WARNING,
                 log_to_driver=log_to_driver, runtime_env=actor_env(os.environ))
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,
                 namespace=NAMESPACE, logging_level=logging.WARNING, log_to_driver=log_to_driver)


# Settings the actors read from their environment. A local cluster's workers inherit this
# process's environment; on a cluster started by `ray start` they have the node's, so these are
# handed to every actor of the job. Secrets (resource key, webhook secrets) are not: a runtime
# environment is shown by Ray's dashboard and job API.
ACTOR_SETTINGS = ("CLOUDREC_WARM_RECORDERS", "CLOUDREC_CHANNEL_GRACE_S", "CLOUDREC_RAY_LOGS",
                  "CLOUDREC_RECORDER_RESOURCE", "CLOUDREC_ALLOW_PRIVATE_IMAGE_HOSTS")


def actor_env(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    return {"env_vars": {k: env[k] for k in ACTOR_SETTINGS if k in env}}


def token_at_hand(env: Mapping[str, str]) -> bool:
    """A Ray auth token in the environment, at RAY_AUTH_TOKEN_PATH or at ~/.ray/auth_token."""
    if env.get("RAY_AUTH_TOKEN"):
        return True
    path = env.get("RAY_AUTH_TOKEN_PATH") or str(Path.home() / ".ray" / "auth_token")
    return Path(path).is_file()


def use_token_if_present(env: MutableMapping[str, str]) -> bool:
    """RAY_AUTH_MODE=token when a token is at hand and no mode was chosen: True if set."""
    if "RAY_AUTH_MODE" in env or not token_at_hand(env):
        return False
    env["RAY_AUTH_MODE"] = "token"
    return True


def _reread_ray_config() -> None:
    """Ray read its configuration from the environment when it was imported; a mode set
    since is seen only once the configuration is read again (checked with Ray 2.60)."""
    from ray._raylet import Config  # type: ignore[attr-defined]

    Config.initialize("")


ADDRESS_FILE = Path(".cloudrec/ray-address")  # written by `cloudrec serve` where it runs


def server_address(given: str | None, env: Mapping[str, str],
                   written: Path = ADDRESS_FILE) -> str:
    """The cluster of the cloudrec a command names: `given`, else RAY_ADDRESS, else the
    address `cloudrec serve` wrote in this directory. Never "whichever cluster on the
    machine started last" (Ray's `auto`), unless asked for by name."""
    if given:
        return given
    if env.get("RAY_ADDRESS"):
        return env["RAY_ADDRESS"]
    if written.is_file() and (address := written.read_text().strip()):
        return address
    raise LookupError("which cloudrec? pass --ray-address HOST:PORT (printed by cloudrec serve) "
                      f"or run from the directory where it runs ({written} is missing)")


def write_address(written: Path = ADDRESS_FILE) -> str:
    """Say where this process's cluster is, for `cloudrec publish` run from here."""
    address = str(ray.get_runtime_context().gcs_address)
    written.parent.mkdir(parents=True, exist_ok=True)
    written.write_text(address + "\n")
    return address
