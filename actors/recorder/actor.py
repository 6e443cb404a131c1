"""Ray shell of a recorder generation: a loop thread pulling channel batches into the core.

A recorder process is started before it is needed (a warm spare: PyAV, numpy and the cores are
imported) and `begin` hands it a session. Generation n+1 of a session folds the `recovery`
projection from the log, settles what generation n left half-written, and continues where the
last good slice ended (`resume`). Layout and subscription changes are pushed to it by the
supervisor once their event is in the log. The supervisor watches it with `ping`; once the log
has fenced it off (a newer generation owns the session), it stops by itself.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import ray

from cloudrec.actors.channel.actor import HISTORY_US
from cloudrec.actors.channel.channel import Batch
from cloudrec.actors.channel.handle import ChannelHandle
from cloudrec.actors.recorder import resume
from cloudrec.actors.recorder.config import RecordingConfig, Subscription
from cloudrec.actors.recorder.individual import IndividualRecorder
from cloudrec.actors.recorder.recorder import Recorder
from cloudrec.actors.uploader.uploader import UploadJob, uploading_status
from cloudrec.events.backends import shared_event_log
from cloudrec.events.layout import Layout
from cloudrec.events.outbox import Outbox
from cloudrec.events.recording import (
    LEAVE_CODE_CLIENT_LEAVE,
    RecorderLaunched,
    RecorderLeft,
    UploadingStatus,
)
from cloudrec.projections import recovery

log = logging.getLogger(__name__)
HISTORY_MS = HISTORY_US // 1000  # how far back a channel keeps packets
BURST_PART_US = 1_000_000  # a pulled burst is decoded and rendered this much at a time


def _now_us() -> int:
    return time.time_ns() // 1000


class RecorderActor:
    """`tick_s`: one pull and render per tick. 200 ms is within the renderer's `jitter_ms`
    (300): a packet pulled up to a tick after it reached the channel is still rendered in
    time. Each pull is a Ray call on both sides; at 100 ms they cost a default composite's
    recorder ~15% of its CPU more, and its channel ~10% (bench/capacity.py)."""

    def __init__(self, tick_s: float = 0.2) -> None:
        self.tick_s = tick_s
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.errors = 0
        self.uploads: list[Any] = []
        self.generation = 0
        self._process = psutil.Process()

    def ready(self) -> int:
        """A warm spare answers once its process has imported everything: its pid."""
        return os.getpid()

    def begin(self, config: RecordingConfig, channel: Any, uploader: Any,
              events_url: str) -> int:
        """Join the session as generation `config.generation`; returns the pid once joined."""
        self.config, self.uploader = config, uploader
        self.generation = config.generation
        self.events = Outbox(shared_event_log(events_url))  # media never waits on the log
        session_dir = config.workdir
        self.config = config = replace(config, workdir=resume.generation_dir(
            session_dir, config.generation))
        now = _now_us()
        plan = self._recover(session_dir, now) if config.generation > 1 else None
        t0 = plan.t0_ms * 1000 if plan else self._started_us(now)
        self.channel = ChannelHandle(channel)
        self.subscriber = f"recorder-{config.sid}-{config.generation}"
        self.channel.subscribe(self.subscriber, max(t0, now - (HISTORY_MS - 1000) * 1000),
                               video_layer=config.video_stream_type)  # failover: the same
        self.events.append([RecorderLaunched(
            stream_id=config.sid, at_ms=now // 1000, generation=config.generation,
            recorder_uid=config.recorder_uid, node_id=ray.get_runtime_context().get_node_id())])
        core = IndividualRecorder if config.mode == "individual" else Recorder
        self.core = core(config, self.events, self._deliver, t0_us=t0, resume=plan)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return os.getpid()

    def _started_us(self, now_us: int) -> int:
        """Generation 1 records from the moment `start` was accepted (the channel's history
        holds what was published while this process was being handed the session)."""
        view = recovery.fold(self.events.read_stream(self.config.sid), self.config.sid)
        started = view.origin_ms * 1000 if view.origin_ms else now_us
        return min(started, now_us)

    def _recover(self, session_dir: Path, now_us: int) -> resume.Resume:
        """Fold the log, settle the files generation n left, hand unconfirmed ones over again."""
        c = self.config
        view, settled, jobs = resume.take_over(
            recovery.fold(self.events.read_stream(c.sid), c.sid), session_dir, c.generation,
            c.sid, now_us // 1000)
        if settled:
            self.events.append(settled)
        for job in jobs:
            self._deliver(job)
        plan = resume.plan(view, now_us // 1000, HISTORY_MS)
        log.warning("recorder %s generation %d: %s", c.sid, c.generation, resume.describe(plan))
        return plan

    def _deliver(self, job: UploadJob) -> None:
        """Hand the file over once its event is in the log (the outbox keeps that order)."""
        self.events.then(lambda: self.uploads.append(self.uploader.upload.remote(job)))

    def _loop(self) -> None:
        while not self.stopping.is_set():
            began = time.monotonic()
            if self.events.fenced is not None:
                log.warning("recorder %s: fenced off (%s); stopping", self.subscriber,
                            self.events.fenced)
                self.stopping.set()
                break
            try:
                self._step()
            except Exception:  # one bad step must not end the recording
                self.errors += 1
                log.exception("recorder %s step failed", self.subscriber)
            self.stopping.wait(max(0.0, self.tick_s - (time.monotonic() - began)))

    def _step(self) -> None:
        """Pull and render up to the time of the pull. A recorder that cannot pull (its channel
        forgot it: a newer generation owns the session) still renders its clock, as a paused
        process that resumes does, and finds out from the log that it was fenced off.

        The clock is read before the pull, not after decoding: the batch holds what arrived
        until then, and rendering further would emit the mix for time whose packets are still
        waiting in the channel. A step that took longer than the jitter allowance to decode
        then silenced every user's audio of that time, dropped as late by the next step.
        For the same reason a capped pull (more packets waiting behind it) renders only up to
        its newest packet: a starved recorder then runs late for a while instead of dropping
        every user's audio from the time it fell behind (issue 12's silent composites)."""
        batch, failed, now = None, None, _now_us()
        try:
            batch = self.channel.pull(self.subscriber)
        except Exception as error:
            failed = error
        with self.lock:
            if batch is not None:
                now = self._take(batch, now)
            self.core.render(now)
        if failed is not None:
            raise failed

    def _take(self, batch: Batch, now_us: int) -> int:
        """Decode a pulled batch and return how far it lets the recorder render. A burst (a
        new generation's history, a starved recorder's backlog) is decoded and rendered one
        second at a time: decoding it all first held every picture of it at once (9 users at
        30 fps: 350 MB for the 4 s a 2000-packet pull holds), memory the process then kept."""
        parts = batch.parts(BURST_PART_US)
        for part in parts[:-1]:
            self.core.receive(part)
            self.core.render(part.covered_until(now_us))
        self.core.receive(parts[-1])
        return parts[-1].covered_until(now_us)

    def set_layout(self, layout: Layout) -> None:
        """`updateLayout`, pushed once its `LayoutUpdated` is in the log: from the next frame."""
        with self.lock:
            self.core.set_layout(layout)

    def update_subscription(self, audio: Subscription, video: Subscription) -> None:
        """`update`: the new lists take effect from the next channel batch."""
        with self.lock:
            self.core.set_subscription(audio, video)

    def stop(self, leave_code: int = LEAVE_CODE_CLIENT_LEAVE) -> UploadingStatus:
        """Drain, close every file, wait for its upload (or its backup): stop's uploadingStatus."""
        self.stopping.set()
        self.thread.join(30)
        with self.lock:
            now = _now_us()  # before the pull, as in `_step`
            while (batch := self.channel.pull(self.subscriber)).pending:
                self.core.render(self._take(batch, now))  # a starved recorder catches up
            self._take(batch, now)
            self.core.finish(now)
        self.channel.unsubscribe(self.subscriber)
        self.events.flush()
        uploaded = uploading_status(ray.get(self.uploads))
        self.events.append([RecorderLeft(stream_id=self.config.sid, at_ms=_now_us() // 1000,
                                         generation=self.config.generation,
                                         leave_code=leave_code)])
        self.events.flush()  # in the log before the supervisor records the stop
        return uploaded

    def ping(self) -> tuple[int, float]:
        """The supervisor's heartbeat: the generation this process records (0 once fenced
        off) and how long its channel has been idle."""
        outbox: Outbox | None = getattr(self, "events", None)
        if outbox is None or outbox.fenced or not hasattr(self, "core"):
            return 0, 0.0
        return self.generation, self.core.idle_for_s(_now_us())

    def get_pid(self) -> int:
        return os.getpid()

    def cpu_percent(self) -> float:
        """CPU this process used since the last call (100 = one core), for /metrics."""
        return float(self._process.cpu_percent(None))

    def get_idle_s(self) -> float:
        return self.core.idle_for_s(_now_us())
