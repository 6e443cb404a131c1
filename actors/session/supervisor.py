"""The session supervisor: the one write side of every recording, and its reconcile loop.

A command (start, update_subscription, update_layout, stop) folds the session's stream, lets
`session` decide, appends what it decided, then moves the actors: launch a recorder generation
(in the background: `start` answers once its events are in the log), push a change to the
running recorder, or drain it. `update()` reconciles: a recorder that died or stopped answering
is failed over to generation n+1 (at most 3 times), one that did not join in time ends its
session, idle and expired sessions are stopped, and the channels sessions record are kept
(a channel nobody keeps or uses ends itself after its grace period). `recover()` rebuilds every
unfinished session from the log when the controller (re)starts, and retires the uploaders of
sessions that ended before it could. What is held here is actual state only, and only while a
session runs (handles, futures); the truth is the log.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from cloudrec.actors.recorder import resume
from cloudrec.actors.recorder.config import RecordingConfig, from_plan, rules, to_plan
from cloudrec.actors.session import keys, session
from cloudrec.actors.session.session import Rejected, SessionState
from cloudrec.actors.uploader.uploader import uploading_status
from cloudrec.events.envelope import Event
from cloudrec.events.layout import Layout
from cloudrec.events.log import EventLog, every_event
from cloudrec.events.recording import (
    LEAVE_CODE_CLIENT_LEAVE,
    LEAVE_CODE_NO_USERS,
    RecordingStarted,
    SessionExited,
    UploadingStatus,
)
from cloudrec.events.subscription import UidLists
from cloudrec.projections import recovery

log = logging.getLogger(__name__)


def _now_ms() -> int:
    return int(time.time() * 1000)


def random_uid() -> int:
    """A recorder's uid after a failover (§14: a new random uid)."""
    return random.randint(100_000_000, 2**31 - 1)


@dataclass
class Timing:
    start_timeout_s: float = 30.0  # a generation that has not joined by then: code 52
    heartbeat_timeout_s: float = 0.8  # no answer to pings for this long: the recorder is lost
    idle_probe_s: float = 1.0  # how often idle and expiry are checked


QUOTA_EXCEEDED = 429  # cloudrec's own code (the spec has none): HTTP 429, retry later
NO_ROOM = 62  # "start: could not reach recording service (retry)" (spec §10): cluster full


@dataclass(frozen=True)
class Quota:
    """What one app id may hold at once, so one customer cannot starve the others."""

    recordings_per_app: int = 20  # sessions recording at once
    channels_per_app: int = 10  # distinct channels those sessions record

    def __post_init__(self) -> None:
        if self.recordings_per_app < 1 or self.channels_per_app < 1:
            raise ValueError(f"quotas must be at least 1: {self}")

    @classmethod
    def from_env(cls) -> Quota:
        """CLOUDREC_MAX_RECORDINGS_PER_APP / CLOUDREC_MAX_CHANNELS_PER_APP, else defaults."""
        return cls(int(os.environ.get("CLOUDREC_MAX_RECORDINGS_PER_APP",
                                      cls.recordings_per_app)),
                   int(os.environ.get("CLOUDREC_MAX_CHANNELS_PER_APP", cls.channels_per_app)))

    def check(self, appid: str, cname: str, live: Iterable[tuple[str, str, str]]) -> None:
        """Rejected(QUOTA_EXCEEDED) if a new recording of `cname` would go past a limit."""
        mine = [who for who in live if who[0] == appid]
        if len(mine) >= self.recordings_per_app:
            raise Rejected(QUOTA_EXCEEDED, f"quota: app id {appid} already has {len(mine)} "
                           f"recordings running (at most {self.recordings_per_app})")
        channels = {who[1] for who in mine}
        if cname not in channels and len(channels) >= self.channels_per_app:
            raise Rejected(QUOTA_EXCEEDED, f"quota: app id {appid} already records "
                           f"{len(channels)} channels (at most {self.channels_per_app})")


@dataclass
class Running:
    """The actual state of one session: its actors and what is under way."""

    config: RecordingConfig  # generation 1's config (storage included while this process has it,
    # the decryption key too: kept in its key file for a restarted controller)
    channel: Any = None
    uploader: Any = None
    layout: Any = None
    recorder: Any = None
    generation: int = 0  # of `recorder`
    launching: Future[None] | None = None
    stopping: bool = False
    zombies: list[Any] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)


class Supervisor:
    def __init__(self, events: EventLog, children: Any, clock_ms: Callable[[], int] = _now_ms,
                 timing: Timing | None = None, new_uid: Callable[[], int] = random_uid,
                 background: ThreadPoolExecutor | None = None,
                 quota: Quota | None = None) -> None:
        self.events, self.children, self.clock_ms = events, children, clock_ms
        self.quota = quota or Quota()
        self.timing, self.new_uid = timing or Timing(), new_uid
        self.background = background or ThreadPoolExecutor(8, thread_name_prefix="session")
        self.running: dict[str, Running] = {}
        self.by_resource: dict[str, str] = {}
        self.live: dict[tuple[str, str, str], str] = {}  # (appid, cname, uid) -> sid
        self.lock = threading.RLock()
        self.last_probe = 0.0

    # -- the log -------------------------------------------------------------------------
    def state(self, sid: str) -> SessionState:
        return session.fold(self.events.read_stream(sid), sid)

    def _append(self, sid: str, events: list[Event]) -> SessionState:
        if events:
            self.events.append(events)
        return self.state(sid)

    # -- commands ------------------------------------------------------------------------
    def get_channel(self, appid: str, cname: str) -> Any:
        """The channel, kept for another grace period (a fresh one if it had ended)."""
        return self.children.channel(appid, cname)

    def list_channels(self) -> dict[tuple[str, str], Any]:
        """The channels this controller's sessions record: the ones it keeps."""
        return {(run.config.appid, run.config.cname): run.channel
                for run in list(self.running.values()) if run.channel is not None}

    def start(self, config: RecordingConfig, started: RecordingStarted) -> None:
        """Append the start (code 7 for a used resourceId, 53 for a running appid/cname/uid,
        429 past a quota, 62 when no node has room for its recorder); the recorder is
        launched in the background."""
        sid, who = config.sid, (config.appid, config.cname, str(config.recorder_uid))
        with self.lock:
            if (used := self.by_resource.get(started.resource_id)) is not None:
                self._append(used, session.repeat_start(self.state(used), self.clock_ms()))
                raise Rejected(7, "recording is already running for this resourceId", used)
            if who in self.live:
                raise Rejected(53, "a recorder with this appid, cname and uid is already running")
            self.quota.check(config.appid, config.cname, self.live)
            if (needs := self.children.room(config)) is not None:
                raise Rejected(NO_ROOM, "could not reach recording service: no node of the "
                               f"cluster has room for this recorder ({needs}); retry later")
            self._append_start(config, started)
            self.by_resource[started.resource_id], self.live[who] = sid, sid
            run = self.running[sid] = Running(config)
        with run.lock:
            run.launching = self.background.submit(self._launch, sid)

    def _append_start(self, config: RecordingConfig, started: RecordingStarted) -> None:
        """The start in the log; the decryption key in its file first, not in the log."""
        storage = config.storage.describe() if config.storage else ""
        keys.keep(config)
        try:
            self._append(config.sid, session.start(self.state(config.sid), started,
                                                   to_plan(config), storage))
        except Exception:
            keys.forget(config)
            raise

    def update_subscription(self, sid: str, audio: UidLists | None,
                            video: UidLists | None) -> None:
        run = self._running(sid)
        with run.lock:
            state = self._append(sid, session.update_subscription(
                self.state(sid), audio, video, self.clock_ms()))
            if run.recorder is not None:
                self.children.push_subscription(run.recorder, *_rules(state))

    def update_layout(self, sid: str, layout: Layout) -> None:
        run = self._running(sid)
        with run.lock:
            self._append(sid, session.update_layout(self.state(sid), layout, self.clock_ms()))
            self.children.push_layout(run.layout, run.recorder, layout)

    def stop(self, sid: str, reason: str = "api") -> UploadingStatus:
        """Drain the recorder, wait for uploads, record the end; returns uploadingStatus."""
        run = self._running(sid)
        with run.lock:
            self._append(sid, session.stop(self.state(sid), reason, self.clock_ms()))
            run.stopping = True
        return self._drain(sid, run)

    def _running(self, sid: str) -> Running:
        run = self.running.get(sid)
        if run is None:
            raise Rejected(404, "failed to find worker")
        return run

    # -- launching and ending --------------------------------------------------------------
    def _launch(self, sid: str) -> None:
        """Start the generation the log says owns the session; code 52 if it does not join."""
        run = self.running[sid]
        with run.lock:
            state = self.state(sid)
            config = self._config(run, state)
            if run.uploader is None:
                run.uploader = self.children.uploader(config)
            if run.layout is None:
                run.layout = self.children.layout(sid, state.layout)
            self.children.fence_uploader(run.uploader, config.generation)
        try:
            recorder = self.children.recorder(config, run.channel, run.uploader,
                                              self.timing.start_timeout_s)
        except Exception as error:
            log.error("session %s: generation %d did not join: %s", sid, config.generation, error)
            with run.lock:
                self._append(sid, session.time_out(self.state(sid), config.generation,
                                                   self.clock_ms(), self.timing.start_timeout_s))
            self._end(sid)
            return
        self._joined(sid, run, recorder, config.generation)

    def _joined(self, sid: str, run: Running, recorder: Any, generation: int) -> None:
        """Register the new recorder and push what changed while it was launching."""
        with run.lock:
            state = self.state(sid)
            run.recorder, run.generation = recorder, generation
            if state.generation == generation and state.recording:
                self.children.push_subscription(recorder, *_rules(state))
                self.children.push_layout(run.layout, recorder, state.layout)

    def _config(self, run: Running, state: SessionState) -> RecordingConfig:
        base = run.config
        if run.channel is None:
            run.channel = self.get_channel(base.appid, base.cname)
        audio, video = _rules(state)
        uid = state.next_uid if state.generation > 1 and state.next_uid else base.recorder_uid
        return replace(base, generation=state.generation, recorder_uid=uid,
                       layout=state.layout, audio=audio, video=video)

    def _drain(self, sid: str, run: Running) -> UploadingStatus:
        """Stop the running generation, or close the files without one; record the end."""
        if run.launching is not None:
            run.launching.result()
        if run.uploader is not None:
            self.children.uploader_ready(run.uploader)
        state = self.state(sid)
        leave_code = LEAVE_CODE_NO_USERS if state.stop_reason == "idle" else LEAVE_CODE_CLIENT_LEAVE
        status: UploadingStatus = "unknown"
        try:
            if run.recorder is not None and run.generation == state.generation:
                status = self.children.stop(run.recorder, leave_code)
            else:
                status = self._close_without_recorder(sid, run, leave_code)
        except Exception as error:  # lost while stopping: its files are closed from the log
            log.error("session %s: recorder lost while stopping (%s)", sid, error)
            self.children.abandon(run.channel, sid, run.generation)
            status = self._close_without_recorder(sid, run, leave_code)
        with run.lock:
            self._append(sid, session.finish(self.state(sid), status, self.clock_ms()))
        self._end(sid)
        return status

    def _close_without_recorder(self, sid: str, run: Running, leave_code: int) -> UploadingStatus:
        """Settle and upload what the lost generations wrote, end the playlist; acting as the
        generation after them, so a zombie of theirs is fenced off."""
        state = self.state(sid)
        if run.uploader is None:
            run.uploader = self.children.uploader(self._config(run, state))
        view = recovery.fold(self.events.read_stream(sid), sid)
        events, jobs = resume.closing(view, run.config.workdir, state.generation + 1, sid,
                                      self.clock_ms())
        self.children.fence_uploader(run.uploader, state.generation + 1)
        with run.lock:
            self._append(sid, events)
        outcomes = [self.children.upload(run.uploader, job) for job in jobs]
        with run.lock:
            self._append(sid, session.leave(self.state(sid), leave_code, self.clock_ms()))
        return uploading_status(outcomes)

    def _end(self, sid: str) -> None:
        with self.lock:
            run = self.running.pop(sid, None)
            config = run.config if run else None
            if config is not None:
                self.live.pop((config.appid, config.cname, str(config.recorder_uid)), None)
                keys.forget(config)
        if run is not None:
            self.children.release(run.recorder, run.layout, run.uploader, run.zombies)

    # -- reconcile -----------------------------------------------------------------------
    def update(self) -> None:
        """Fail over lost recorders; stop idle and expired sessions; keep the channels they
        record. Safe to call repeatedly."""
        probe = time.monotonic() - self.last_probe >= self.timing.idle_probe_s
        if probe:
            self.last_probe = time.monotonic()
            self._keep_channels()
        for sid, run in list(self.running.items()):
            try:
                self._reconcile(sid, run, probe)
            except Exception:
                log.exception("reconcile of session %s failed", sid)

    def _reconcile(self, sid: str, run: Running, probe: bool) -> None:
        if run.stopping or run.recorder is None:
            return
        health = self.children.health(run.recorder, self.timing.heartbeat_timeout_s)
        if health != "alive":
            self.fail_over(sid, run.generation, f"recorder {health}")
        elif probe and self._expired(run.config):
            self._stop_in_background(sid, "expired")
        elif probe and self.children.idle_s(run.recorder) > run.config.max_idle_s:
            self._stop_in_background(sid, "idle")

    def _keep_channels(self) -> None:
        try:
            self.children.keep_channels(list(self.list_channels().values()))
        except Exception:
            log.exception("keeping the sessions' channels failed")

    def fail_over(self, sid: str, generation: int, reason: str) -> None:
        """Generation `generation` is lost: the next one takes over (or the session ends)."""
        run = self.running.get(sid)
        if run is None:
            return
        with run.lock:
            state = self._append(sid, session.fail(self.state(sid), generation, reason,
                                                   self.clock_ms(), self.new_uid()))
            if state.generation == generation:
                return  # old news: this generation was already replaced
            log.warning("session %s: generation %d lost (%s)", sid, generation, reason)
            if run.recorder is not None:
                run.zombies.append(run.recorder)
                self.children.abandon(run.channel, sid, run.generation)
            run.recorder = None
            if state.recording:
                run.launching = self.background.submit(self._launch, sid)
            elif not state.ended and not run.stopping:
                run.stopping = True  # the 4th failure: close what was recorded
                self.background.submit(self._drain, sid, run)

    def _stop_in_background(self, sid: str, reason: str) -> None:
        def stop() -> None:
            try:
                self.stop(sid, reason)
            except Rejected:
                pass  # stopped by a client in between

        self.running[sid].stopping = True
        self.background.submit(stop)

    def _expired(self, config: RecordingConfig) -> bool:
        return config.expires_at_ms is not None and self.clock_ms() >= config.expires_at_ms

    # -- a (re)started controller ---------------------------------------------------------
    def recover(self) -> list[str]:
        """Rebuild indexes and every unfinished session from the log: sessions that were
        recording get their next generation (a failover), stopping ones are finished."""
        unfinished = self._index(self.events)
        for sid in unfinished:
            state = self.state(sid)
            if state.plan is None or state.started is None:
                continue
            run = Running(keys.restore(from_plan(state.plan)))
            run.uploader = self.children.find_uploader(sid)
            self.running[sid] = run
            if state.stop_reason:
                run.stopping = True
                self.background.submit(self._drain, sid, run)
            else:
                run.generation = state.generation
                self.fail_over(sid, state.generation, "controller restarted")
        self._retire_uploaders()
        return unfinished

    def _retire_uploaders(self) -> None:
        """The uploaders of sessions that ended before they were retired (the controller died
        in between) are retired now; those of unfinished or unknown sessions are left."""
        try:
            for sid in self.children.list_uploaders():
                if self.state(sid).ended:
                    self.children.retire(self.children.find_uploader(sid))
        except Exception:
            log.exception("retiring the uploaders of ended sessions failed")

    def _index(self, events: EventLog) -> list[str]:
        started: dict[str, RecordingStarted] = {}
        ended: set[str] = set()
        for event in every_event(events):
            if isinstance(event, RecordingStarted):
                started[event.stream_id] = event
                self.by_resource[event.resource_id] = event.stream_id
            elif isinstance(event, SessionExited):
                ended.add(event.stream_id)
        for sid, event in started.items():
            if sid not in ended:
                self.live[(event.appid, event.cname, event.uid)] = sid
        return [sid for sid in started if sid not in ended]

    def list_sessions(self) -> list[str]:
        return list(self.running)


def _rules(state: SessionState) -> tuple[Any, Any]:
    return rules(state.lists.stream_types, state.lists.audio, state.lists.video)

