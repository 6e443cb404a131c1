"""Ray shell of the controller: the one detached, named actor that supervises sessions.

On every start (the first, or a restart by Ray after its process died) it rebuilds its
sessions from the log (`Supervisor.recover`), then runs the reconcile loop. Commands that the
session's state refuses come back as a `(code, reason, sid)` answer, not as an exception, so
the caller gets the API's error without Ray's wrapping.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import threading
import time
from typing import Any

import ray

from cloudrec.actors.recorder.config import RecordingConfig
from cloudrec.actors.session.children import RayChildren
from cloudrec.actors.session.session import Rejected
from cloudrec.actors.session.supervisor import Quota, Supervisor
from cloudrec.cluster.options import Placement
from cloudrec.events.backends import shared_event_log
from cloudrec.events.layout import Layout
from cloudrec.events.recording import RecordingStarted
from cloudrec.events.subscription import UidLists

log = logging.getLogger(__name__)
Refusal = tuple[int, str, str] | None


class ControllerActor:
    def __init__(self, events_url: str, storage_url: str, reconcile_s: float = 0.2,
                 quota: Quota | None = None, placement: Placement | None = None) -> None:
        self.settings = {"events_url": events_url, "storage_url": storage_url}
        self.children = RayChildren(events_url, storage_url, placement=placement)
        self.core = Supervisor(shared_event_log(events_url), self.children, quota=quota)
        self.recovered = threading.Event()
        self.stopping = threading.Event()
        self.reconcile_s = reconcile_s
        threading.Thread(target=self._control_loop, daemon=True).start()

    def _control_loop(self) -> None:
        try:
            if sids := self.core.recover():
                log.warning("controller: recovered %d unfinished sessions", len(sids))
        finally:
            self.recovered.set()
        trimmed, trim_every_s = time.monotonic(), 30.0
        while not self.stopping.wait(self.reconcile_s):
            self.core.update()
            if time.monotonic() - trimmed > trim_every_s:
                trimmed = time.monotonic()
                _give_back_memory()

    def ready(self, warm_timeout_s: float = 60.0) -> bool:
        """Once the sessions are recovered and a warm recorder waits (or the timeout passed)."""
        self.recovered.wait(warm_timeout_s)
        return self.children.wait_warm(warm_timeout_s)

    def get_settings(self) -> dict[str, str]:
        return self.settings

    def get_channel(self, appid: str, cname: str) -> Any:
        return self.core.get_channel(appid, cname)

    def start(self, config: RecordingConfig, started: RecordingStarted) -> Refusal:
        return _refusal(self.core.start, config, started)

    def update_layout(self, sid: str, layout: Layout) -> Refusal:
        return _refusal(self.core.update_layout, sid, layout)

    def update_subscription(self, sid: str, audio: UidLists | None,
                            video: UidLists | None) -> Refusal:
        return _refusal(self.core.update_subscription, sid, audio, video)

    def stop(self, sid: str, reason: str = "api") -> tuple[str, Refusal]:
        try:
            return self.core.stop(sid, reason), None
        except Rejected as rejected:
            return "unknown", (rejected.code, rejected.reason, rejected.sid)

    def list_sessions(self) -> list[str]:
        return self.core.list_sessions()

    def describe(self, sid: str) -> dict[str, int]:
        """The running generation of a session and its recorder's pid (0 while launching):
        for inspection, benchmarks and fault-injection tests."""
        run = self.core.running.get(sid)
        if run is None or run.recorder is None:
            return {"generation": 0, "pid": 0}
        return {"generation": run.generation, "pid": self.children.pid(run.recorder)}

    def get_pid(self) -> int:
        return os.getpid()

    def health(self, wait_s: float = 1.0) -> dict[str, float]:
        """For /healthz and /metrics: sessions recovered, how many run, and the CPU their
        recorders use (those answering within `wait_s`; 100 = one core)."""
        recorders = [run.recorder for run in list(self.core.running.values())
                     if run.recorder is not None]
        asked = [recorder.cpu_percent.remote() for recorder in recorders]
        answered, _ = ray.wait(asked, num_returns=len(asked), timeout=wait_s) if asked else ([], [])
        cpu = 0.0
        for ref in answered:
            try:
                cpu += float(ray.get(ref))
            except ray.exceptions.RayError:
                continue  # a recorder that died: the failover reports it
        return {"recovered": float(self.recovered.is_set()),
                "sessions": float(len(recorders)), "recorder_cpu": cpu}


def _give_back_memory() -> None:
    """A controller lives for months and every session passes through it: collect cycles and
    hand the heap's free pages back to the system (glibc keeps them otherwise, and the RSS of
    a controller that ran many sessions would only grow)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def _refusal(command: Any, *args: Any) -> Refusal:
    try:
        command(*args)
    except Rejected as rejected:
        return rejected.code, rejected.reason, rejected.sid
    return None
