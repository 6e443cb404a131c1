"""A recorded event log for the inspection tests: real media from the recorder cores, no Ray.

Two sessions of app `app1`, on a simulated clock, into one embedded log and a `file://` storage
folder, with the events the supervisor, the channel and the uploader would have written:

- `mix` (channel `room42`): users 1 (red, 300 Hz) and 2 (blue, 700 Hz) in bestFit; at 1.5 s the
  layout becomes float; generation 1 fails at 2.5 s and generation 2 takes over at 3.5 s (a 1 s
  gap); user 2 leaves at 4.0 s; `stop` at 5.0 s. One-second slices, uploads 200 ms after each file.
- `individual` (channel `solo`): user 1 from 0 s, user 2 from 1.0 s, for 2 s.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from cloudrec.actors.channel.channel import Channel
from cloudrec.actors.channel.synthetic import SyntheticPublisher
from cloudrec.actors.recorder.config import RecordingConfig
from cloudrec.actors.recorder.individual import IndividualRecorder
from cloudrec.actors.recorder.recorder import Recorder
from cloudrec.actors.recorder.resume import plan
from cloudrec.actors.uploader.uploader import UploadJob
from cloudrec.events.channel import TrackPublished, UserJoined, UserLeft, channel_id
from cloudrec.events.embedded import EmbeddedEventLog
from cloudrec.events.layout import Layout, LayoutUpdated
from cloudrec.events.recording import (
    RecorderFailed,
    RecorderLaunched,
    RecorderLeft,
    RecordingStarted,
    RecordingStopped,
    SessionExited,
    StopRequested,
)
from cloudrec.events.upload import FileUploaded, UploaderStarted
from cloudrec.projections import recovery

T0_MS = 1_800_000_000_000
APP, MIX_SID, SOLO_SID = "app1", "a" * 32, "b" * 32
RED, BLUE = (220, 30, 30), (30, 30, 220)
WIDTH, HEIGHT = 320, 180
STEP_MS = 100


@dataclass
class Recorded:
    url: str
    storage: Path
    mix_sid: str = MIX_SID
    solo_sid: str = SOLO_SID


@dataclass
class Uploads:
    """The uploader, simulated: each file is in storage 200 ms after it was handed over."""

    log: EmbeddedEventLog
    storage: Path
    waiting: list[tuple[int, UploadJob]] = field(default_factory=list)
    now_ms: int = T0_MS

    def deliver(self, job: UploadJob) -> None:
        self.waiting.append((self.now_ms, job))

    def run(self, now_ms: int, everything: bool = False) -> None:
        self.now_ms = now_ms
        due = [(t, j) for t, j in self.waiting if everything or now_ms - t >= 200]
        for item in due:
            self.waiting.remove(item)
            self._upload(item[1], now_ms)

    def _upload(self, job: UploadJob, now_ms: int) -> None:
        target = self.storage / job.key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(job.path, target)
        self.log.append([FileUploaded(stream_id=job.sid, at_ms=now_ms, key=job.key,
                                      kind=job.kind, size=target.stat().st_size, md5=job.md5)])


def record(folder: Path) -> Recorded:
    log = EmbeddedEventLog(folder / "events.db")
    storage = folder / "recordings"
    try:
        _mix(log, storage, folder / "work" / MIX_SID)
        _individual(log, storage, folder / "work" / SOLO_SID)
    finally:
        log.close()
    return Recorded(f"sqlite:///{folder / 'events.db'}", storage)


def _started(sid: str, cname: str, mode: str, at_ms: int, layout: int) -> RecordingStarted:
    transcoding = {"mixedVideoLayout": layout, "width": WIDTH, "height": HEIGHT}
    return RecordingStarted(
        stream_id=sid, at_ms=at_ms, appid=APP, cname=cname, uid="999", resource_id=f"res-{sid}",
        mode=mode, config={"recordingConfig": {"transcodingConfig": transcoding}},
        av_file_types=["hls"], file_prefix=["rec", cname],
        playlist=f"rec/{cname}/{sid}_{cname}.m3u8")


def _users() -> list[SyntheticPublisher]:
    return [SyntheticPublisher(1, RED, 300.0, 160, 90), SyntheticPublisher(2, BLUE, 700.0, 160, 90)]


def _join(log: EmbeddedEventLog, channel: Channel, cname: str, source: SyntheticPublisher,
          at_ms: int) -> None:
    stream = channel_id(APP, cname)
    channel.join(source.uid, at_ms * 1000)
    log.append([UserJoined(stream_id=stream, at_ms=at_ms, uid=source.uid)])
    for track in source.tracks():
        channel.publish(track, at_ms * 1000)
        log.append([TrackPublished(stream_id=stream, at_ms=at_ms, uid=source.uid,
                                   kind=track.kind, codec=track.codec)])


def _config(sid: str, cname: str, mode: str, generation: int, workdir: Path,
            layout: int) -> RecordingConfig:
    return RecordingConfig(
        sid=sid, appid=APP, cname=cname, recorder_uid=999, generation=generation,
        workdir=workdir / f"g{generation}", mode=mode, width=WIDTH, height=HEIGHT,
        file_prefix=("rec", cname), layout=Layout(mixed_video_layout=layout), slice_seconds=1.0)


def _mix(log: EmbeddedEventLog, storage: Path, workdir: Path) -> None:
    sid, cname = MIX_SID, "room42"
    uploads = Uploads(log, storage)
    channel = Channel(clock=lambda: uploads.now_ms * 1000, share_publisher_offset=True)
    sources = _users()
    for source in sources:
        _join(log, channel, cname, source, T0_MS - 500)
    log.append([_started(sid, cname, "mix", T0_MS, 1),
                UploaderStarted(stream_id=sid, at_ms=T0_MS + 10, storage=f"file://{storage}")])
    recorder = _launch(log, channel, uploads, _config(sid, cname, "mix", 1, workdir, 1), T0_MS)
    for ms in range(T0_MS + STEP_MS, T0_MS + 5_000 + 1, STEP_MS):
        uploads.run(ms)
        if ms == T0_MS + 1_500:
            layout = Layout(mixed_video_layout=0)
            log.append([LayoutUpdated(stream_id=sid, at_ms=ms, layout=layout)])
            recorder.set_layout(layout)
        if ms == T0_MS + 4_000:
            channel.leave(2, ms * 1000)
            log.append([UserLeft(stream_id=channel_id(APP, cname), at_ms=ms, uid=2)])
            sources = sources[:1]
        for source in sources:
            channel.push(source.packets_until((ms - T0_MS) / 1000), ms * 1000)
        if ms == T0_MS + 2_500:
            recorder.finish(ms * 1000)  # its last moments, as far as the log learnt of them
            log.append([RecorderFailed(stream_id=sid, at_ms=ms + 50, generation=2,
                                       failed_generation=1, reason="actor died", new_uid=1000)])
            recorder = None
        if ms == T0_MS + 3_500:
            config = _config(sid, cname, "mix", 2, workdir, 0)
            recorder = _launch(log, channel, uploads, config, ms, resumed=True)
        if recorder is not None:
            recorder.receive(channel.pull("rec"))
            recorder.render(ms * 1000)
    _stop(log, recorder, uploads, sid, T0_MS + 5_000)


def _launch(log: EmbeddedEventLog, channel: Channel, uploads: Uploads, config: RecordingConfig,
            at_ms: int, resumed: bool = False) -> Recorder:
    sid = config.sid
    log.append([RecorderLaunched(stream_id=sid, at_ms=at_ms, generation=config.generation,
                                 recorder_uid=config.recorder_uid + config.generation - 1,
                                 node_id=f"node-{config.generation}")])
    resume = plan(recovery.fold(log.read_stream(sid), sid), at_ms, 0) if resumed else None
    channel.subscribe("rec", replay_from_us=at_ms * 1000 if resumed else None, now_us=at_ms * 1000)
    core = IndividualRecorder if config.mode == "individual" else Recorder
    return core(config, log, uploads.deliver, t0_us=at_ms * 1000, resume=resume)  # type: ignore[return-value]


def _stop(log: EmbeddedEventLog, recorder: Recorder, uploads: Uploads, sid: str,
          at_ms: int) -> None:
    log.append([StopRequested(stream_id=sid, at_ms=at_ms)])
    recorder.finish(at_ms * 1000)
    generation = recorder.config.generation
    log.append([RecorderLeft(stream_id=sid, at_ms=at_ms + 100, generation=generation,
                             leave_code=16)])
    uploads.run(at_ms + 300, everything=True)
    log.append([RecordingStopped(stream_id=sid, at_ms=at_ms + 400, uploading_status="uploaded"),
                SessionExited(stream_id=sid, at_ms=at_ms + 500)])


def _individual(log: EmbeddedEventLog, storage: Path, workdir: Path) -> None:
    sid, cname, t0 = SOLO_SID, "solo", T0_MS + 10_000
    uploads = Uploads(log, storage, now_ms=t0)
    channel = Channel(clock=lambda: uploads.now_ms * 1000, share_publisher_offset=True)
    first, second = _users()
    _join(log, channel, cname, first, t0 - 500)
    log.append([_started(sid, cname, "individual", t0, 1),
                UploaderStarted(stream_id=sid, at_ms=t0 + 10, storage=f"file://{storage}")])
    recorder = _launch(log, channel, uploads, _config(sid, cname, "individual", 1, workdir, 1), t0)
    for ms in range(t0 + STEP_MS, t0 + 2_000 + 1, STEP_MS):
        uploads.run(ms)
        if ms == t0 + 1_000:
            _join(log, channel, cname, second, ms)
        channel.push(first.packets_until((ms - t0) / 1000), ms * 1000)
        if ms > t0 + 1_000:
            channel.push(second.packets_until((ms - t0 - 1_000) / 1000), ms * 1000)
        recorder.receive(channel.pull("rec"))
        recorder.render(ms * 1000)
    _stop(log, recorder, uploads, sid, t0 + 2_000)
