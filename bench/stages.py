"""Where a composite recorder's CPU goes, and what the `ffmpeg` CLI spends on the same job.

`split` runs the Recorder core in this process on `bench/looped.py`'s packets, through an
in-process `Channel` on a simulated clock (as bench/composite.py does), as fast as the CPU allows,
with the output encoded on the calling thread instead of `ThreadedOutput`'s worker: then
`time.process_time()` (every thread of the process)
around each stage is that stage's CPU. A stage's time excludes the timed stages it calls
(compositing calls the encoder through `push_video`). No timers are added to the recorder
itself; stage methods are wrapped here, for this run only.

  decode     Recorder._decode (PyAV decoders, loss and corruption checks)
  composite  Recorder._render_picture (regions, placeholders, Compositor.compose)
  mix        Recorder._mix_until (audio timeline, AudioMixer)
  encode     VideoEncoder.encode + AudioEncoder.encode (libx264 veryfast, AAC)
  mux        Cutter.push / finish (MPEG-TS slices, playlist, md5 of each file)
  transport  Channel.push + pull, and the pulled batch pickled and unpickled (what Ray does to
             a pull's answer; the RPC itself is in the service figure, not here)
  events     appends to an embedded (SQLite) event log
"""

from __future__ import annotations

import pickle
import resource
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inputs import FFMPEG_THREADS, write_ts  # bench/, run as scripts
from looped import Looped, Period

import cloudrec.actors.recorder.recorder as recorder_module
from cloudrec.actors.channel.channel import Channel
from cloudrec.actors.recorder.config import RecordingConfig
from cloudrec.actors.recorder.encoder import AudioEncoder, VideoEncoder
from cloudrec.actors.recorder.output import RecordingOutput
from cloudrec.actors.recorder.recorder import Recorder
from cloudrec.actors.recorder.segment import Cutter
from cloudrec.events.embedded import EmbeddedEventLog
from cloudrec.events.layout import Layout

T0_US = 1_700_000_000_000_000
TICK_US = 100_000
STAGES = ("decode", "composite", "mix", "encode", "mux", "transport", "events")


@dataclass(frozen=True)
class Canvas:
    """A composite job: `users` publishers of `in_width`x`in_height`, out to the canvas."""

    name: str
    users: int
    in_width: int
    in_height: int
    width: int
    height: int
    fps: int
    bitrate_kbps: int
    layout: int  # mixedVideoLayout: 0 float (the API's default), 1 bestFit

    def transcoding(self) -> dict[str, int] | None:
        """The start request's transcodingConfig (None: the API's defaults)."""
        if self.layout == 0 and (self.width, self.height, self.fps) == (360, 640, 15):
            return None
        return {"width": self.width, "height": self.height, "fps": self.fps,
                "bitrate": self.bitrate_kbps, "mixedVideoLayout": self.layout}


@dataclass
class StageClock:
    """CPU seconds per stage; nested stages are taken out of the stage that called them."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    _open: list[list[float]] = field(default_factory=list)  # [start, nested] per open stage

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self._open.append([time.process_time(), 0.0])
        try:
            yield
        finally:
            began, nested = self._open.pop()
            spent = time.process_time() - began
            self.seconds[name] += spent - nested
            if self._open:
                self._open[-1][1] += spent


class SyncOutput(RecordingOutput):
    """`ThreadedOutput`'s interface on the calling thread: its CPU is then timed by stage."""

    def poll(self) -> None:
        pass

    def drain(self) -> None:
        pass


WRAPPED: list[tuple[Any, str, str]] = [
    (Recorder, "_decode", "decode"), (Recorder, "_render_picture", "composite"),
    (Recorder, "_mix_until", "mix"), (VideoEncoder, "encode", "encode"),
    (AudioEncoder, "encode", "encode"), (Cutter, "push", "mux"), (Cutter, "finish", "mux"),
    (Channel, "push", "transport"), (Channel, "pull", "transport"),
    (EmbeddedEventLog, "append", "events"),
]


@contextmanager
def timed_stages(clock: StageClock) -> Iterator[None]:
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in WRAPPED]
    for (owner, name, stage), (_, _, original) in zip(WRAPPED, originals, strict=True):
        setattr(owner, name, _timed(clock, stage, original))
    threaded = recorder_module.ThreadedOutput
    recorder_module.ThreadedOutput = SyncOutput  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
        recorder_module.ThreadedOutput = threaded  # type: ignore[misc]


def _timed(clock: StageClock, stage: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with clock.stage(stage):
            return original(*args, **kwargs)
    return wrapper


def split(canvas: Canvas, users: list[Period], seconds: float, workdir: Path) -> dict[str, float]:
    """CPU seconds per second of media, per stage, and `total` (the whole process)."""
    fresh_dir(workdir)
    clock = StageClock()
    with timed_stages(clock):
        began = time.process_time()
        _run_core(canvas, [Looped(p) for p in users], seconds, workdir, clock)
        total = time.process_time() - began
    per_s = {name: spent / seconds for name, spent in clock.seconds.items()}
    return per_s | {"other": (total - sum(clock.seconds.values())) / seconds,
                    "total": total / seconds}


def _run_core(canvas: Canvas, sources: list[Looped], seconds: float, workdir: Path,
              clock: StageClock) -> None:
    channel = Channel(clock=lambda: T0_US)
    for source in sources:
        for track in source.tracks():
            channel.publish(track, now_us=T0_US)
    channel.subscribe("recorder")
    log = EmbeddedEventLog(workdir / "events.db")
    core = Recorder(_config(canvas, workdir), log, lambda job: None, T0_US)
    now_us, end_us = T0_US, T0_US + int(seconds * 1_000_000)
    while now_us < end_us:
        now_us += TICK_US
        media_s = (now_us - T0_US) / 1e6
        channel.push([p for s in sources for p in s.packets_until(media_s)], now_us=now_us)
        batch = channel.pull("recorder", max_packets=100_000)
        with clock.stage("transport"):  # what Ray does to a pull's answer
            batch = pickle.loads(pickle.dumps(batch, protocol=5))
        core.receive(batch)
        core.render(now_us)
    core.finish(now_us)
    log.close()


def _config(canvas: Canvas, workdir: Path) -> RecordingConfig:
    return RecordingConfig(sid="stages", appid="bench", cname=canvas.name, recorder_uid=999,
                           generation=1, workdir=workdir, width=canvas.width,
                           height=canvas.height, fps=canvas.fps,
                           bitrate_kbps=canvas.bitrate_kbps,
                           layout=Layout(mixed_video_layout=canvas.layout), slice_seconds=5.0)


# -- the ffmpeg CLI on the same job ---------------------------------------------------------------


def ffmpeg_cpu(canvas: Canvas, users: list[Period], seconds: float, workdir: Path) -> float | None:
    """CPU seconds per second of media of `ffmpeg` doing the job from MPEG-TS files of the same
    packets: scale each input to its grid cell, `xstack`, `amix`, libx264 veryfast at the
    canvas's size, rate and bitrate, AAC 48k mono, HLS. None without ffmpeg."""
    if shutil.which("ffmpeg") is None:
        return None
    fresh_dir(workdir)
    files = [write_ts(p.publisher, Looped(p).packets_until(seconds), workdir) for p in users]
    before = _children_cpu_s()
    subprocess.run(ffmpeg_command(canvas, files, workdir), check=True)
    return (_children_cpu_s() - before) / seconds


def ffmpeg_command(c: Canvas, files: list[Path], workdir: Path) -> list[str]:
    threads = FFMPEG_THREADS  # as cloudrec's codecs
    cols = next(n for n in range(1, 10) if n * n >= c.users)
    rows = -(-c.users // cols)
    cell_w, cell_h = c.width // cols // 2 * 2, c.height // rows // 2 * 2
    scaled = ";".join(f"[{i}:v]scale={cell_w}:{cell_h}[v{i}]" for i in range(c.users))
    places = "|".join(f"{(i % cols) * cell_w}_{(i // cols) * cell_h}" for i in range(c.users))
    stack = "".join(f"[v{i}]" for i in range(c.users))
    mix = "".join(f"[{i}:a]" for i in range(c.users))
    graph = (f"{scaled};{stack}xstack=inputs={c.users}:layout={places}:fill=black,"
             f"pad={c.width}:{c.height}[v];{mix}amix=inputs={c.users}[a]")
    inputs = [arg for path in files for arg in (*threads, "-i", str(path))]
    return ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *inputs,
            "-filter_complex_threads", "1", "-filter_complex", graph, "-map", "[v]", "-map", "[a]",
            "-r", str(c.fps), "-c:v", "libx264", "-preset", "veryfast",
            "-b:v", f"{c.bitrate_kbps}k", "-g", str(2 * c.fps), "-pix_fmt", "yuv420p", *threads,
            "-c:a", "aac", "-b:a", "48k", "-ac", "1", "-ar", "48000", "-f", "hls",
            "-hls_time", "5", "-hls_list_size", "0",
            "-hls_segment_filename", str(workdir / "slice_%03d.ts"), str(workdir / "ff.m3u8")]


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def fresh_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
