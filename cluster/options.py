"""Every Ray actor option in one place: names, namespace, lifetime, restarts, resources.

The controller is detached, and so are the actors a controller restart must not take with it:
channels (publishers keep publishing into them) and uploaders (they hold the customer's keys and
the backlog, which no event may carry). Having no owner, they end themselves: a channel once
vacant for its grace period, an uploader once its session ended and its backlog drained.
Recorders and layout controllers are owned by the controller and die with it; their state is in
the log, and a restarted controller fails each recording over to a new recorder generation.
Recorders are started before they are needed (warm spares, so `start` has one recording within
about a second) and so carry no session name. Names derive from ids. Actors reserve no CPU
(`num_cpus=0`): they are I/O- or media-bound loops, and a 2-core laptop must fit a whole
recording; real capacity is governed by the controller, not by Ray's CPU accounting.
"""

from __future__ import annotations

import re
from typing import Any

import ray

NAMESPACE = "cloudrec"
CONTROLLER = "cloudrec-controller"


def _safe(text: str) -> str:
    """A name part that keeps distinct texts distinct: bytes outside [A-Za-z0-9.] become
    `_XX` (so `a b`, `a?b` and `a_b` name three channels, and `-` still separates parts)."""
    return re.sub(rb"[^A-Za-z0-9.]", lambda m: b"_%02X" % m.group()[0],
                  text.encode()).decode()


def controller_options() -> dict[str, Any]:
    return {"name": CONTROLLER, "namespace": NAMESPACE, "lifetime": "detached",
            "get_if_exists": True, "num_cpus": 0, "max_concurrency": 32, "max_restarts": -1}


def channel_options(appid: str, cname: str) -> dict[str, Any]:
    return {"name": f"channel-{_safe(appid)}-{_safe(cname)}", "namespace": NAMESPACE,
            "lifetime": "detached", "get_if_exists": True, "num_cpus": 0, "max_concurrency": 16}


def recorder_options() -> dict[str, Any]:
    """A warm spare: it learns its session (and generation) at `begin`."""
    return {"namespace": NAMESPACE, "num_cpus": 0, "max_concurrency": 4, "max_restarts": 0}


def layout_options(sid: str) -> dict[str, Any]:
    return {"name": f"layout-{sid}", "namespace": NAMESPACE, "num_cpus": 0,
            "max_restarts": 3, "max_task_retries": 3}


def uploader_name(sid: str) -> str:
    return f"uploader-{sid}"


def uploader_options(sid: str) -> dict[str, Any]:
    return {"name": uploader_name(sid), "namespace": NAMESPACE, "lifetime": "detached",
            "get_if_exists": True, "num_cpus": 0, "max_concurrency": 1, "max_restarts": 3,
            "max_task_retries": 3}


def publisher_options(appid: str, cname: str, uid: int) -> dict[str, Any]:
    return {"name": f"publisher-{_safe(appid)}-{_safe(cname)}-{uid}", "namespace": NAMESPACE,
            "num_cpus": 0, "max_concurrency": 2}


def remote(cls: type, options: dict[str, Any]) -> Any:
    """The one place `ray.remote` is applied."""
    return ray.remote(cls).options(**options)
