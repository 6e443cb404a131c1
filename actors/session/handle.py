"""The one wrapper through which the API side calls the controller actor (tests use a fake)."""

from __future__ import annotations

from typing import Any

import ray

from cloudrec.actors.recorder.config import RecordingConfig, Subscription
from cloudrec.events.layout import Layout


class ControllerHandle:
    def __init__(self, actor: Any) -> None:
        self.actor = actor

    def start(self, config: RecordingConfig) -> None:
        ray.get(self.actor.start.remote(config))

    def update_layout(self, sid: str, layout: Layout) -> None:
        ray.get(self.actor.update_layout.remote(sid, layout))

    def update_subscription(self, sid: str, audio: Subscription, video: Subscription) -> None:
        ray.get(self.actor.update_subscription.remote(sid, audio, video))

    def stop(self, sid: str) -> str:
        uploading: str = ray.get(self.actor.stop.remote(sid))
        return uploading

    def get_channel(self, appid: str, cname: str) -> Any:
        return ray.get(self.actor.get_channel.remote(appid, cname))
