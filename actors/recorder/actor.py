"""Ray shell of a recorder generation: a loop thread pulling channel batches into the core."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import ray

from cloudrec.actors.channel.handle import ChannelHandle
from cloudrec.actors.recorder.config import RecordingConfig, Subscription
from cloudrec.actors.recorder.individual import IndividualRecorder
from cloudrec.actors.recorder.recorder import Recorder
from cloudrec.actors.uploader.uploader import UploadJob, uploading_status
from cloudrec.events.backends import open_event_log
from cloudrec.events.outbox import Outbox
from cloudrec.events.recording import (
    LEAVE_CODE_CLIENT_LEAVE,
    RecorderLaunched,
    RecorderLeft,
    UploadingStatus,
)

log = logging.getLogger(__name__)


def _now_us() -> int:
    return time.time_ns() // 1000


class RecorderActor:
    def __init__(self, config: RecordingConfig, channel: Any, layout: Any, uploader: Any,
                 events_url: str, tick_s: float = 0.1) -> None:
        self.config, self.layout, self.uploader, self.tick_s = config, layout, uploader, tick_s
        self.events = Outbox(open_event_log(events_url))  # media never waits on the log
        self.channel = ChannelHandle(channel)
        self.subscriber = f"recorder-{config.sid}-{config.generation}"
        self.channel.subscribe(self.subscriber)
        now = _now_us()
        self.events.append([RecorderLaunched(
            stream_id=config.sid, at_ms=now // 1000, generation=config.generation,
            recorder_uid=config.recorder_uid, node_id=ray.get_runtime_context().get_node_id())])
        self.uploads: list[Any] = []
        core = IndividualRecorder if config.mode == "individual" else Recorder
        self.core = core(config, self.events, self._deliver, t0_us=now)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.errors = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _deliver(self, job: UploadJob) -> None:
        """Hand the file over once its event is in the log (the outbox keeps that order)."""
        self.events.then(lambda: self.uploads.append(self.uploader.upload.remote(job)))

    def _loop(self) -> None:
        revision = 0
        while not self.stopping.is_set():
            began = time.monotonic()
            try:
                revision = self._step(revision)
            except Exception:  # one bad step must not end the recording
                self.errors += 1
                log.exception("recorder %s step failed", self.subscriber)
            self.stopping.wait(max(0.0, self.tick_s - (time.monotonic() - began)))

    def _step(self, revision: int) -> int:
        batch = self.channel.pull(self.subscriber)
        latest = ray.get(self.layout.get_layout.remote(revision))
        with self.lock:
            if latest is not None:
                revision = latest[0]
                self.core.set_layout(latest[1])
            self.core.receive(batch)
            self.core.render(_now_us())
        return revision

    def update_subscription(self, audio: Subscription, video: Subscription) -> None:
        """`update`: the new lists take effect from the next channel batch."""
        with self.lock:
            self.core.set_subscription(audio, video)

    def stop(self, leave_code: int = LEAVE_CODE_CLIENT_LEAVE) -> UploadingStatus:
        """Drain, close every file, wait for its upload (or its backup): stop's uploadingStatus."""
        self.stopping.set()
        self.thread.join(30)
        with self.lock:
            self.core.receive(self.channel.pull(self.subscriber))
            self.core.finish(_now_us())
        self.channel.unsubscribe(self.subscriber)
        self.events.flush()
        uploaded = uploading_status(ray.get(self.uploads))
        self.events.append([RecorderLeft(stream_id=self.config.sid, at_ms=_now_us() // 1000,
                                         generation=self.config.generation,
                                         leave_code=leave_code)])
        self.events.flush()  # in the log before the supervisor records the stop
        return uploaded

    def get_pid(self) -> int:
        return os.getpid()

    def get_idle_s(self) -> float:
        return self.core.idle_for_s(_now_us())
