"""The session supervisor core: the lifecycle of every recording, one sid at a time.

Commands come from the API (start, update_layout, update_subscription, stop); each moves the
child actors through the `children` wrapper (stop also appends its events). `update()` is the
reconcile step, safe to call repeatedly: it stops sessions idle longer than their `maxIdleTime`
and sessions whose `resourceExpiredHour` has passed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from cloudrec.actors.recorder.config import RecordingConfig, Subscription
from cloudrec.events.layout import Layout
from cloudrec.events.log import EventLog
from cloudrec.events.recording import (
    LEAVE_CODE_CLIENT_LEAVE,
    LEAVE_CODE_NO_USERS,
    RecordingStopped,
    SessionExited,
    StopRequested,
    UploadingStatus,
)

log = logging.getLogger(__name__)


def _now_ms() -> int:
    return int(time.time() * 1000)


class Supervisor:
    def __init__(self, events: EventLog, children: Any,
                 clock_ms: Callable[[], int] = _now_ms) -> None:
        self.events, self.children, self.clock_ms = events, children, clock_ms
        self.channels: dict[tuple[str, str], Any] = {}
        self.sessions: dict[str, Any] = {}
        self.configs: dict[str, RecordingConfig] = {}
        self.lock = threading.Lock()

    def get_channel(self, appid: str, cname: str) -> Any:
        with self.lock:
            key = (appid, cname)
            if key not in self.channels:
                self.channels[key] = self.children.channel(appid, cname)
            return self.channels[key]

    def start(self, config: RecordingConfig) -> None:
        channel = self.get_channel(config.appid, config.cname)
        self.sessions[config.sid] = self.children.launch(config, channel)
        self.configs[config.sid] = config

    def update_layout(self, sid: str, layout: Layout) -> None:
        self.children.update_layout(self.sessions[sid], layout)

    def update_subscription(self, sid: str, audio: Subscription, video: Subscription) -> None:
        """New rules for a running session (its `SubscriptionUpdated` is already in the log);
        nothing to do for one that ended in between (idle, expired)."""
        actors, config = self.sessions.get(sid), self.configs.get(sid)
        if actors is None or config is None:
            return
        self.configs[sid] = replace(config, audio=audio, video=video)
        self.children.update_subscription(actors, audio, video)

    def stop(self, sid: str, reason: str = "api") -> str:
        """Drain the recorder, wait for uploads, record the end; returns uploadingStatus."""
        actors = self.sessions.pop(sid, None)
        if actors is None:
            return "unknown"
        self.events.append([StopRequested(stream_id=sid, at_ms=self.clock_ms(), reason=reason)])
        status: UploadingStatus
        try:
            leave_code = LEAVE_CODE_NO_USERS if reason == "idle" else LEAVE_CODE_CLIENT_LEAVE
            status = self.children.stop(actors, leave_code)
        except Exception:
            log.exception("session %s did not stop cleanly", sid)
            status = "unknown"
        self.events.append([
            RecordingStopped(stream_id=sid, at_ms=self.clock_ms(), uploading_status=status),
            SessionExited(stream_id=sid, at_ms=self.clock_ms(),
                          exit_status=1 if status == "unknown" else 0)])
        self.children.release(actors)
        self.configs.pop(sid, None)
        return status

    def update(self) -> None:
        """Reconcile: stop every session past its resourceExpiredHour, or whose channel has
        been idle past its maxIdleTime."""
        for sid, actors in list(self.sessions.items()):
            try:
                if self._expired(self.configs[sid]):
                    self.stop(sid, reason="expired")
                elif self.children.get_idle_s(actors) > self.configs[sid].max_idle_s:
                    self.stop(sid, reason="idle")
            except Exception:
                log.exception("reconcile of session %s failed", sid)

    def _expired(self, config: RecordingConfig) -> bool:
        return config.expires_at_ms is not None and self.clock_ms() >= config.expires_at_ms

    def list_sessions(self) -> list[str]:
        return list(self.sessions)
