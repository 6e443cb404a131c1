"""Every Ray actor option in one place: names, namespace, lifetime, restarts, resources.

The controller is detached, and so are the actors a controller restart must not take with it:
channels (publishers keep publishing into them) and uploaders (they hold the customer's keys and
the backlog, which no event may carry). Having no owner, they end themselves: a channel once
vacant for its grace period, an uploader once its session ended and its backlog drained.
Recorders and layout controllers are owned by the controller and die with it; their state is in
the log, and a restarted controller fails each recording over to a new recorder generation.
Recorders are started before they are needed (warm spares, so `start` has one recording within
about a second) and so carry no session name. Names derive from ids.

Placement: every actor reserves what it uses, so Ray's scheduler spreads recorders over the
nodes (`Placement`). A recorder reserves CPU by its job: a composite pays a base (decoding its
users, mixing, the channel's transport) plus a share per million output pixels per second
(compositing and encoding); an individual recorder, which only remuxes, a base plus a share per
track. The figures (2-core development machine, 2026-12-01, `bench/capacity.py` and its stage
split): a default composite (4 users 640x360@15 -> 360x640@15) takes 0.06 of a core in its
recorder process on synthetic pictures and ~0.13 on camera-like ones (textured, moving, grain;
2.5 Mbit/s inputs, the recorder core measured at 0.117 plus ~0.016 of actor); 9 users ->
1280x720@30 0.23 synthetic, ~0.53 camera-like. The shares below are fitted to the camera-like
720p30 figure (0.57 reserved) and to 0.11 at the default canvas, between its two measured
figures (the camera-like inputs are heavier than a WebRTC sender's 0.5-1 Mbit/s, and decoding
them was a third of that 0.13). `bench/individual.py` measures 0.32 ms of CPU per user-second
for the individual core, and an individual recorder's base covers its process and transport.
With `recorder_resource` set, a recorder also needs one unit of that custom resource: only nodes
started with it (`ray start --resources '{"recorder": 8}'`) take recorders, at most that many
each, and recorders are spread over the nodes that fit. The controller reserves nothing (it must
always have a place); channels, uploaders and layout controllers live beside it when its node
has room (soft affinity, `home`), so a lost recording node takes only its recorders with it,
and those fail over.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ray

if TYPE_CHECKING:  # placement reads a recording's config; no import at run time
    from cloudrec.actors.recorder.config import RecordingConfig, Subscription

NAMESPACE = "cloudrec"
CONTROLLER = "cloudrec-controller"


def _safe(text: str) -> str:
    """A name part that keeps distinct texts distinct: bytes outside [A-Za-z0-9.] become
    `_XX` (so `a b`, `a?b` and `a_b` name three channels, and `-` still separates parts)."""
    return re.sub(rb"[^A-Za-z0-9.]", lambda m: b"_%02X" % m.group()[0],
                  text.encode()).decode()


def controller_options(home: str | None = None) -> dict[str, Any]:
    """`home`: the node of the process that starts it (the API's), when it has room."""
    return {"name": CONTROLLER, "namespace": NAMESPACE, "lifetime": "detached",
            "get_if_exists": True, "num_cpus": 0, "max_concurrency": 32, "max_restarts": -1,
            **_near(home)}


def _near(home: str | None) -> dict[str, Any]:
    """Beside the controller's node `home` when it has room, else anywhere."""
    if home is None:
        return {}
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node_id=home, soft=True)}


def channel_options(appid: str, cname: str, home: str | None = None) -> dict[str, Any]:
    return {"name": f"channel-{_safe(appid)}-{_safe(cname)}", "namespace": NAMESPACE,
            "lifetime": "detached", "get_if_exists": True, "num_cpus": CHANNEL_CPU,
            "max_concurrency": 16, **_near(home)}


MIX_BASE_CPU = 0.04  # decoding the users, mixing audio, the channel's fan-out
MIX_CPU_PER_MPX_S = 0.019  # compositing + encoding, per million output pixels per second
INDIVIDUAL_BASE_CPU = 0.02
INDIVIDUAL_CPU_PER_TRACK = 0.001  # remuxing one stream (0.16 ms per second, rounded up)
INDIVIDUAL_TRACKS_ALL = 34  # "all users": 17 users' audio and video
CHANNEL_CPU = 0.02
UPLOADER_CPU = 0.01


def recorder_cpu(job: RecordingConfig) -> float:
    """The share of a core a recorder of `job` reserves, rounded up to a hundredth."""
    if job.mode == "individual":
        tracks = sum(_tracks(rule) for kind, rule in (("audio", job.audio), ("video", job.video))
                     if job.stream_types in (2, 0 if kind == "audio" else 1))
        cpu = INDIVIDUAL_BASE_CPU + INDIVIDUAL_CPU_PER_TRACK * tracks
    else:
        cpu = MIX_BASE_CPU + MIX_CPU_PER_MPX_S * job.width * job.height * job.fps / 1e6
    return math.ceil(cpu * 100) / 100


def _tracks(rule: Subscription) -> int:
    if not rule.enabled:
        return 0
    return len(rule.only) if rule.only is not None else INDIVIDUAL_TRACKS_ALL // 2


@dataclass(frozen=True)
class Placement:
    """The cluster-wide placement rule (the controller's; set by `cloudrec serve`)."""

    recorder_resource: str | None = None  # custom resource a recorder needs one unit of

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Placement:
        return cls(recorder_resource=env.get("CLOUDREC_RECORDER_RESOURCE") or None)

    def recorder_needs(self, job: RecordingConfig) -> dict[str, float]:
        """Ray resources a recorder of `job` reserves: {"CPU": ..., custom: 1}."""
        needs = {"CPU": recorder_cpu(job)}
        if self.recorder_resource:
            needs[self.recorder_resource] = 1.0
        return needs

    def recorder_options(self, needs: Mapping[str, float]) -> dict[str, Any]:
        """A warm spare for jobs needing `needs`: it learns its session at `begin`."""
        custom = {k: v for k, v in needs.items() if k != "CPU"}
        return {"namespace": NAMESPACE, "num_cpus": needs.get("CPU", 0.0),
                "resources": custom, "max_concurrency": 4, "max_restarts": 0,
                "scheduling_strategy": "SPREAD"}


def fits(needs: Mapping[str, float], free_per_node: Mapping[str, Mapping[str, float]]) -> bool:
    """Some node has every resource of `needs` free (Ray places an actor on one node)."""
    return any(all(free.get(k, 0.0) >= v - 1e-9 for k, v in needs.items())
               for free in free_per_node.values())


def describe(needs: Mapping[str, float]) -> str:
    return ", ".join(f"{v:g} {k}" for k, v in sorted(needs.items()))


def layout_options(sid: str, home: str | None = None) -> dict[str, Any]:
    return {"name": f"layout-{sid}", "namespace": NAMESPACE, "num_cpus": 0,
            "max_restarts": 3, "max_task_retries": 3, **_near(home)}


def uploader_name(sid: str) -> str:
    return f"uploader-{sid}"


def uploader_options(sid: str, home: str | None = None) -> dict[str, Any]:
    return {"name": uploader_name(sid), "namespace": NAMESPACE, "lifetime": "detached",
            "get_if_exists": True, "num_cpus": UPLOADER_CPU, "max_concurrency": 1,
            "max_restarts": 3, "max_task_retries": 3, **_near(home)}


def publisher_options(appid: str, cname: str, uid: int) -> dict[str, Any]:
    return {"name": f"publisher-{_safe(appid)}-{_safe(cname)}-{uid}", "namespace": NAMESPACE,
            "num_cpus": 0, "max_concurrency": 2}


def remote(cls: type, options: dict[str, Any]) -> Any:
    """The one place `ray.remote` is applied."""
    return ray.remote(cls).options(**options)
