"""The one wrapper through which the supervisor creates and calls its child actors.

Supervisor logic is tested with a fake of this class; only here do Ray calls about children
happen (spec style rule 11).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any

import ray

from cloudrec.actors.channel.actor import ChannelActor
from cloudrec.actors.layout.actor import LayoutActor
from cloudrec.actors.recorder.actor import RecorderActor
from cloudrec.actors.recorder.config import RecordingConfig, Subscription
from cloudrec.actors.uploader.actor import UploaderActor
from cloudrec.cluster import options
from cloudrec.events.layout import Layout
from cloudrec.events.recording import UploadingStatus


@dataclass
class SessionActors:
    recorder: Any
    layout: Any
    uploader: Any


class RayChildren:
    def __init__(self, events_url: str, storage_url: str) -> None:
        self.events_url = events_url
        self.storage_url = storage_url
        self.retiring: dict[Any, Any] = {}  # retire() ref -> uploader handle, kept alive
        self.lock = threading.Lock()

    def channel(self, appid: str, cname: str) -> Any:
        cls = options.remote(ChannelActor, options.channel_options(appid, cname))
        return cls.remote(appid, cname, self.events_url)

    def launch(self, config: RecordingConfig, channel: Any) -> SessionActors:
        """The storage keys go to the uploader only; a store refusing at start is reported by
        the uploader (error event) and the recording goes on, keeping its files locally."""
        uploader = options.remote(UploaderActor, options.uploader_options(config.sid)).remote(
            self.storage_url, self.events_url, config.storage, config.sid)
        ray.get(uploader.announce.remote(config.sid, config.generation))
        layout = options.remote(LayoutActor, options.layout_options(config.sid)).remote(
            config.sid, config.layout, self.events_url)
        recorder = options.remote(
            RecorderActor, options.recorder_options(config.sid, config.generation)
        ).remote(replace(config, storage=None), channel, layout, uploader, self.events_url)
        ray.get(recorder.get_pid.remote())  # constructed: joined the channel, launched
        return SessionActors(recorder, layout, uploader)

    def update_layout(self, actors: SessionActors, layout: Layout) -> None:
        ray.get(actors.layout.update_layout.remote(layout))

    def update_subscription(self, actors: SessionActors, audio: Subscription,
                            video: Subscription) -> None:
        ray.get(actors.recorder.update_subscription.remote(audio, video))

    def stop(self, actors: SessionActors, leave_code: int,
             timeout_s: float = 120) -> UploadingStatus:
        status: UploadingStatus = ray.get(actors.recorder.stop.remote(leave_code),
                                          timeout=timeout_s)
        return status

    def get_idle_s(self, actors: SessionActors) -> float:
        idle: float = ray.get(actors.recorder.get_idle_s.remote(), timeout=10)
        return idle

    def release(self, actors: SessionActors) -> None:
        """The uploader lives on until its backup reached the customer's storage (it is ended
        by a later release once its `retire()` returned)."""
        for actor in (actors.recorder, actors.layout):
            ray.kill(actor, no_restart=True)
        with self.lock:  # the controller calls from several threads
            self.retiring[actors.uploader.retire.remote()] = actors.uploader
            done, _ = ray.wait(list(self.retiring), num_returns=len(self.retiring), timeout=0)
            retired = [self.retiring.pop(ref) for ref in done]
        for uploader in retired:
            ray.kill(uploader, no_restart=True)
