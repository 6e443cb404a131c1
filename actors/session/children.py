"""The one wrapper through which the supervisor creates, calls and watches its child actors.

Supervisor logic is tested with a fake of this class; only here do Ray calls about children
happen (style rule 11). Recorders come from a pool of warm spares, so a session has a recorder
recording about a second after `start`. Channels and uploaders are detached and end
themselves: a channel once vacant for its grace period (kept meanwhile by `keep_channels` for
every channel a session records), an uploader once `retire` drained its backup. Each running
recorder is pinged on every reconcile step: an answer carries its idle time; an error means the
actor died; no answer for longer than the heartbeat timeout means it is hung (or paused, or
cut off).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import RayActorError

from cloudrec.actors.channel.actor import ChannelActor
from cloudrec.actors.channel.vacancy import DEFAULT_GRACE_S, ChannelClosed
from cloudrec.actors.layout.actor import LayoutActor
from cloudrec.actors.recorder.actor import RecorderActor
from cloudrec.actors.recorder.config import RecordingConfig, Subscription
from cloudrec.actors.uploader.actor import UploaderActor
from cloudrec.actors.uploader.uploader import Outcome, UploadJob
from cloudrec.cluster import options
from cloudrec.events.layout import Layout
from cloudrec.events.recording import UploadingStatus

log = logging.getLogger(__name__)
WARM_RECORDERS = int(os.environ.get("CLOUDREC_WARM_RECORDERS", "2"))
CHANNEL_GRACE_S = float(os.environ.get("CLOUDREC_CHANNEL_GRACE_S", DEFAULT_GRACE_S))


STARTUP_TIMEOUT_S = 3.0


@dataclass
class Watch:
    """Pings of one recorder: the one in flight, when it was sent, the last answer.

    Until it first answers, a recorder has `STARTUP_TIMEOUT_S`, not the heartbeat timeout: its
    first step decodes the channel's history since the session started, seconds of every user
    at once, and on a loaded machine healthy new recorders were declared lost before their
    first slice (a failover, with its gap, for nothing). Once it has answered, a pause is
    noticed within the heartbeat timeout again."""

    ref: Any = None
    last_answer: float = field(default_factory=time.monotonic)
    idle_s: float = 0.0
    dead: bool = False
    answered: bool = False

    def silent_too_long(self, now: float, timeout_s: float) -> bool:
        limit = timeout_s if self.answered else max(timeout_s, STARTUP_TIMEOUT_S)
        return now - self.last_answer > limit


Needs = tuple[tuple[str, float], ...]  # a recorder's Ray resources, hashable


class RecorderPool:
    """Warm recorder processes: each has imported everything and waits for `begin`.

    A spare reserves the resources of a job (`options.Placement`), fixed when it is created: the
    default composite's at first, which covers an individual recording's too (a recorder taken
    from a spare keeps the spare's reservation, so at most `size` of them reserve more than
    their job). A start that needs more (a larger canvas) gets a process of its own, started
    then (a second or two more), and from then on the spares reserve that much."""

    def __init__(self, placement: options.Placement, size: int = WARM_RECORDERS) -> None:
        self.placement, self.size = placement, size
        self.shape: Needs = _needs(placement.recorder_needs(RecordingConfig(
            sid="", appid="", cname="", recorder_uid=0, generation=0, workdir=Path("."))))
        self.spares: list[tuple[Any, Any, Needs]] = []  # (actor, its ready() ref, its needs)
        self.lock = threading.Lock()
        self.fill()

    def _spawn(self, needs: Needs) -> tuple[Any, Any, Needs]:
        actor = options.remote(RecorderActor, self.placement.recorder_options(dict(needs)))
        spawned = actor.remote()
        return spawned, spawned.ready.remote(), needs

    def fill(self) -> None:
        with self.lock:
            while len(self.spares) < self.size:
                self.spares.append(self._spawn(self.shape))

    def ready(self, needs: Needs) -> int | None:
        """The index of a spare that covers `needs` and is placed and warm, if any."""
        for index, (_, ref, shape) in enumerate(self.spares):
            if covers(shape, needs) and ray.wait([ref], timeout=0)[0]:
                return index
        return None

    def take(self, needs: Needs) -> Any:
        with self.lock:
            index = self.ready(needs)
            if index is None:  # one not yet warm, else a new one
                index = next((i for i, s in enumerate(self.spares) if covers(s[2], needs)),
                             None)
            taken = self.spares.pop(index) if index is not None else self._spawn(needs)
            if not covers(self.shape, needs):  # spares large enough for what is asked now
                self.shape = needs
                self._drop_short_of(needs)
        self.fill()
        return taken[0]

    def drop_short_of(self, needs: Needs) -> bool:
        """Free what spares too small for `needs` reserve (when the cluster has no room for
        it otherwise): True if any."""
        with self.lock:
            return self._drop_short_of(needs)

    def _drop_short_of(self, needs: Needs) -> bool:
        short = [s for s in self.spares if not covers(s[2], needs)]
        self.spares = [s for s in self.spares if covers(s[2], needs)]
        for actor, _, _ in short:
            ray.kill(actor, no_restart=True)
        return bool(short)

    def wait_warm(self, timeout_s: float) -> bool:
        with self.lock:
            refs = [ref for _, ref, _ in self.spares]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
        return len(ready) == len(refs)


def _needs(needs: dict[str, float]) -> Needs:
    return tuple(sorted(needs.items()))


def covers(shape: Needs, needs: Needs) -> bool:
    """A recorder reserving `shape` has at least `needs` of every resource."""
    have = dict(shape)
    return all(have.get(name, 0.0) >= amount - 1e-9 for name, amount in needs)


def free_per_node() -> dict[str, dict[str, float]]:
    """What each node has free now (Ray's GCS view; a driver-side call, no dashboard)."""
    from ray._private.state import state

    per_node = state.available_resources_per_node  # what ray.available_resources() sums
    free: dict[str, dict[str, float]] = per_node()  # type: ignore[no-untyped-call]
    return free


class RayChildren:
    def __init__(self, events_url: str, storage_url: str, warm: int = WARM_RECORDERS,
                 placement: options.Placement | None = None) -> None:
        self.events_url = events_url
        self.storage_url = storage_url
        self.placement = placement or options.Placement.from_env()
        self.home: str | None = ray.get_runtime_context().get_node_id()  # the controller's
        self.pool = RecorderPool(self.placement, warm)
        self.watches: dict[str, Watch] = {}
        self.announced: dict[str, Any] = {}  # uploader id -> its announce() ref

    # -- creating --------------------------------------------------------------------------
    def channel(self, appid: str, cname: str, attempts: int = 5) -> Any:
        """The channel's actor, kept for another grace period; one that ended as it was asked
        for (or is still dying, its name not yet free) is replaced by a fresh one."""
        cls = options.remote(ChannelActor, options.channel_options(appid, cname, self.home))
        for attempt in range(1, attempts + 1):
            try:
                actor = cls.remote(appid, cname, self.events_url, CHANNEL_GRACE_S)
                ray.get(actor.keep.remote(), timeout=60)
                return actor
            except (ChannelClosed, RayActorError, ValueError) as error:
                if attempt == attempts:
                    raise
                log.info("channel %s/%s was ending (%s); asking again", appid, cname, error)
                time.sleep(0.2 * attempt)
        raise AssertionError("unreachable")

    def keep_channels(self, channels: list[Any]) -> None:
        """The channels sessions record stay for another grace period (not waited for)."""
        for channel in channels:
            channel.keep.remote()

    def uploader(self, config: RecordingConfig) -> Any:
        """The session's uploader (the one that survived a controller restart, if any). The
        storage keys go to it only; a store refusing at start is reported by it (error event)
        and the recording goes on, keeping its files locally."""
        opts = options.uploader_options(config.sid, self.home)
        uploader = options.remote(UploaderActor, opts).remote(
            self.storage_url, self.events_url, config.storage, config.sid)
        self.announced[_id(uploader)] = uploader.announce.remote(config.sid, 0)
        return uploader

    def uploader_ready(self, uploader: Any, timeout_s: float = 60) -> None:
        """Wait until the uploader recorded its start (callback 30 comes before the end)."""
        ref = self.announced.pop(_id(uploader), None)
        if ref is not None:
            try:
                ray.get(ref, timeout=timeout_s)
            except Exception:
                log.exception("uploader of a session did not announce itself")

    def find_uploader(self, sid: str) -> Any:
        try:
            return ray.get_actor(options.uploader_name(sid), namespace=options.NAMESPACE)
        except ValueError:
            return None

    def list_uploaders(self) -> list[str]:
        """The sids whose uploader actor is alive (a restarted controller retires those of
        sessions that ended before it could)."""
        named = ray.util.list_named_actors(all_namespaces=True)
        prefix = options.uploader_name("")
        return [actor["name"].removeprefix(prefix) for actor in named
                if actor["namespace"] == options.NAMESPACE and actor["name"].startswith(prefix)]

    def layout(self, sid: str, layout: Layout) -> Any:
        return options.remote(LayoutActor, options.layout_options(sid, self.home)).remote(
            sid, layout, self.events_url)

    def room(self, config: RecordingConfig, wait_s: float = 3.0) -> str | None:
        """None if a recorder for `config` can be placed now (a warm spare that covers it, or a
        node with its resources free), else what it needs. Spares too small for it are given
        up for it, and the cluster is watched for `wait_s` while Ray frees their share."""
        needs = _needs(self.placement.recorder_needs(config))
        if self.pool.ready(needs) is not None:
            return None
        deadline = time.monotonic() + wait_s
        dropped = False
        while True:
            if options.fits(dict(needs), free_per_node()):
                return None
            if not dropped:
                dropped = self.pool.drop_short_of(needs)
                if not dropped:
                    break
            if time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        return options.describe(dict(needs))

    def recorder(self, config: RecordingConfig, channel: Any, uploader: Any,
                 timeout_s: float) -> Any:
        """A warm recorder begins generation `config.generation`; raises unless it joined
        within `timeout_s`."""
        recorder = self.pool.take(_needs(self.placement.recorder_needs(config)))
        try:
            ray.get(recorder.begin.remote(_secret_free(config), channel, uploader,
                                          self.events_url), timeout=timeout_s)
        except Exception:
            self.abandon(channel, config.sid, config.generation)
            ray.kill(recorder, no_restart=True)
            raise
        self.watches[_id(recorder)] = Watch()
        return recorder

    def wait_warm(self, timeout_s: float) -> bool:
        return self.pool.wait_warm(timeout_s)

    # -- commands to running actors --------------------------------------------------------
    def push_layout(self, layout_actor: Any, recorder: Any, layout: Layout) -> None:
        if layout_actor is not None:
            layout_actor.update_layout.remote(layout)
        if recorder is not None:
            recorder.set_layout.remote(layout)

    def push_subscription(self, recorder: Any, audio: Subscription, video: Subscription) -> None:
        recorder.update_subscription.remote(audio, video)

    def fence_uploader(self, uploader: Any, generation: int) -> None:
        """Not waited for: the uploader takes its calls in order, and the new generation's
        first playlist comes a slice later (a new uploader may still be starting)."""
        uploader.fence_below.remote(generation)

    def upload(self, uploader: Any, job: UploadJob) -> Outcome:
        outcome: Outcome = ray.get(uploader.upload.remote(job))
        return outcome

    def stop(self, recorder: Any, leave_code: int, timeout_s: float = 120) -> UploadingStatus:
        status: UploadingStatus = ray.get(recorder.stop.remote(leave_code), timeout=timeout_s)
        return status

    # -- watching --------------------------------------------------------------------------
    def health(self, recorder: Any, timeout_s: float) -> str:
        """"alive", "dead" (the actor died) or "unresponsive" (no answer for `timeout_s`)."""
        watch = self.watches.setdefault(_id(recorder), Watch())
        if watch.ref is not None and ray.wait([watch.ref], timeout=0)[0]:
            try:
                watch.idle_s = ray.get(watch.ref)[1]
            except RayActorError:
                watch.dead = True
            except Exception:  # it answered, with an error of its own: alive
                log.exception("ping of recorder failed")
            watch.last_answer, watch.answered = time.monotonic(), True
            watch.ref = None
        if watch.dead:
            return "dead"
        if watch.ref is None:
            watch.ref = recorder.ping.remote()
        return "unresponsive" if watch.silent_too_long(time.monotonic(), timeout_s) else "alive"

    def pid(self, recorder: Any) -> int:
        """The recorder's process id; 0 when it does not answer (dead or hung)."""
        try:
            pid: int = ray.get(recorder.get_pid.remote(), timeout=2)
        except Exception:
            return 0
        return pid

    def idle_s(self, recorder: Any) -> float:
        return self.watches.get(_id(recorder), Watch()).idle_s

    # -- ending ----------------------------------------------------------------------------
    def abandon(self, channel: Any, sid: str, generation: int) -> None:
        """A lost generation's channel buffer is dropped (its process may still run: the log
        fences it off, and it is killed when the session is released)."""
        if channel is not None:
            channel.unsubscribe.remote(f"recorder-{sid}-{generation}")

    def release(self, recorder: Any, layout: Any, uploader: Any, zombies: list[Any]) -> None:
        """The session ended: its recorders and layout go now, its uploader once its backup
        reached the customer's storage."""
        for actor in (recorder, layout, *zombies):
            if actor is not None:
                self.watches.pop(_id(actor), None)
                ray.kill(actor, no_restart=True)
        if uploader is not None:
            self.announced.pop(_id(uploader), None)
            self.retire(uploader)

    def retire(self, uploader: Any) -> None:
        """Not waited for: the uploader drains its backup, however long that takes, and then
        ends itself."""
        if uploader is not None:
            uploader.retire.remote()


def _id(actor: Any) -> str:
    return str(actor._actor_id.hex())


def _secret_free(config: RecordingConfig) -> RecordingConfig:
    """What a recorder sees: never the storage keys (the decryption key it needs)."""
    return replace(config, storage=None)
