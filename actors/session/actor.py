"""Ray shell of the controller: the one detached, named actor that supervises sessions."""

from __future__ import annotations

import threading
from typing import Any

from cloudrec.actors.recorder.config import RecordingConfig, Subscription
from cloudrec.actors.session.children import RayChildren
from cloudrec.actors.session.supervisor import Supervisor
from cloudrec.events.backends import open_event_log
from cloudrec.events.layout import Layout


class ControllerActor:
    def __init__(self, events_url: str, storage_url: str, reconcile_s: float = 1.0) -> None:
        self.settings = {"events_url": events_url, "storage_url": storage_url}
        self.core = Supervisor(open_event_log(events_url), RayChildren(events_url, storage_url))
        self.stopping = threading.Event()
        self.reconcile_s = reconcile_s
        threading.Thread(target=self._control_loop, daemon=True).start()

    def _control_loop(self) -> None:
        while not self.stopping.wait(self.reconcile_s):
            self.core.update()

    def get_settings(self) -> dict[str, str]:
        return self.settings

    def get_channel(self, appid: str, cname: str) -> Any:
        return self.core.get_channel(appid, cname)

    def start(self, config: RecordingConfig) -> None:
        self.core.start(config)

    def update_layout(self, sid: str, layout: Layout) -> None:
        self.core.update_layout(sid, layout)

    def update_subscription(self, sid: str, audio: Subscription, video: Subscription) -> None:
        self.core.update_subscription(sid, audio, video)

    def stop(self, sid: str, reason: str = "api") -> str:
        return self.core.stop(sid, reason)

    def list_sessions(self) -> list[str]:
        return self.core.list_sessions()
