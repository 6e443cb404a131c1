"""P1: composite pipeline efficiency (shared/spec/targets.md), measured in one run.

Job: 4 synthetic publishers 640x360@30 H.264 + Opus tones -> 1280x720@30 best-fit (layout 1),
libx264 `veryfast` 2000 kbit/s, AAC, 15 s HLS slices. Three ways, same packets, same run:

  full       packets -> Channel (simulated clock) -> Recorder core: decode + composite + mix +
             encode + segment, rendered as fast as the CPU allows (no sleeping)
  encode     the full pipeline's own composite frames (collected in an untimed pre-pass)
             -> RecordingOutput: H.264 encode + HLS segmenting only
  ffmpeg     the `ffmpeg` command line doing the same job from 4 MPEG-TS files (xstack + amix)

Inputs, each kind measured on its own (`--content`, both by default): `synthetic`, a flat
colour with a small moving marker that costs x264 almost nothing, and `camera`, a drifting
textured pattern with a moving disc and grain (`CameraLike`), where the encoder's share of the
work is closer to a real camera's.

Threads: cloudrec's VideoEncoder (up to 1280x720@30, this job), TrackDecoder and compositor
scaling run one thread each (its output is encoded on a worker thread beside the decoding and
compositing one), so ffmpeg gets the same: `-threads 1` on every decoder and on libx264, and one
filter thread.

Run: .venv/bin/python bench/composite.py [--seconds 10] [--content synthetic camera] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np
from inputs import FFMPEG_THREADS, write_ts  # bench/, run as scripts

from cloudrec.actors.channel.channel import Channel
from cloudrec.actors.channel.packet import MediaPacket, TrackInfo
from cloudrec.actors.channel.synthetic import SyntheticPublisher, synthetic_publishers
from cloudrec.actors.recorder.config import RecordingConfig
from cloudrec.actors.recorder.output import OutputConfig, RecordingOutput
from cloudrec.actors.recorder.recorder import Recorder
from cloudrec.events.layout import Layout
from cloudrec.events.memory import MemoryEventLog

OUT = Path(__file__).resolve().parent / "out"
USERS, IN_WIDTH, IN_HEIGHT = 4, 640, 360
WIDTH, HEIGHT, FPS, BITRATE_KBPS, SLICE_S = 1280, 720, 30, 2000, 15.0
BEST_FIT = 1
T0_US = 1_700_000_000_000_000  # simulated channel clock start (UTC µs)
TICK_US = 100_000  # one receive/render step per 100 ms of media, like the actor's loop
TARGET_VS_ENCODE, TARGET_VS_FFMPEG = 0.90, 1.0


@dataclass
class Result:
    name: str
    frames: int
    wall_s: float
    cpu_s: float

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_fps(self) -> float:
        """Output frames per CPU-second (all threads): immune to other load on the machine."""
        return self.frames / self.cpu_s if self.cpu_s else 0.0


@dataclass
class Inputs:
    tracks: list[TrackInfo]
    packets: list[MediaPacket]  # all publishers, in media-time order
    files: list[Path]


# -- inputs (not timed) -------------------------------------------------------------------------


class CameraLike(SyntheticPublisher):
    """Moving, textured pictures, costlier for x264 than flat colour: a drifting pattern of
    gradients in the user's colour, a bright disc crossing the frame and sensor-like grain
    (issue 14: P1 on camera-like content, where the encoder's share is realistic)."""

    def draw_frame(self, index: int) -> av.VideoFrame:
        t = index / self.fps
        rows, cols = np.mgrid[0 : self.height, 0 : self.width].astype(np.float32)
        wave = np.sin((cols + 60 * t) / 17.0) * np.cos((rows - 35 * t) / 23.0)
        image = np.array(self.color, np.float32) * (0.55 + 0.35 * wave[..., None])
        cx, cy = (0.5 + 0.4 * np.sin(t)) * self.width, (0.5 + 0.3 * np.cos(0.7 * t)) * self.height
        disc = (cols - cx) ** 2 + (rows - cy) ** 2 < (self.height / 6) ** 2
        image[disc] = 230.0
        grain = np.random.default_rng(index + 7919 * self.uid).normal(0, 5, image.shape[:2])
        pixels = np.clip(image + grain[..., None], 0, 255).astype(np.uint8)
        return av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuv420p")


CONTENTS = {"synthetic": SyntheticPublisher, "camera": CameraLike}


def make_inputs(seconds: float, content: str = "synthetic") -> Inputs:
    looks = synthetic_publishers(USERS, width=IN_WIDTH, height=IN_HEIGHT, fps=FPS)
    publishers = [CONTENTS[content](p.uid, p.color, p.tone_hz, width=IN_WIDTH,
                                    height=IN_HEIGHT, fps=FPS) for p in looks]
    tracks = [track for p in publishers for track in p.tracks()]
    per_user = [p.packets_until(seconds) for p in publishers]
    files = [write_ts(p, packets, OUT) for p, packets in zip(publishers, per_user, strict=True)]
    packets = sorted((m for ps in per_user for m in ps), key=lambda m: m.seconds)
    return Inputs(tracks, packets, files)


# -- (a) full pipeline --------------------------------------------------------------------------


def recording_config(workdir: Path) -> RecordingConfig:
    return RecordingConfig(
        sid="bench",
        appid="bench",
        cname="composite",
        recorder_uid=999,
        generation=1,
        workdir=workdir,
        width=WIDTH,
        height=HEIGHT,
        fps=FPS,
        bitrate_kbps=BITRATE_KBPS,
        layout=Layout(mixed_video_layout=BEST_FIT),
        slice_seconds=SLICE_S,
    )


def run_pipeline(inputs: Inputs, seconds: float, workdir: Path) -> Recorder:
    """Packets through a Channel into the Recorder core on a simulated clock, then finish."""
    fresh_dir(workdir)
    channel = Channel(clock=lambda: T0_US)
    for track in inputs.tracks:
        channel.publish(track, now_us=T0_US)
    channel.subscribe("recorder")
    recorder = Recorder(recording_config(workdir), MemoryEventLog(), lambda job: None, T0_US)
    now_us, end_us, next_packet = T0_US, T0_US + int(seconds * 1_000_000), 0
    while now_us < end_us:
        now_us = min(now_us + TICK_US, end_us)
        due = next_packet
        while due < len(inputs.packets) and T0_US + inputs.packets[due].seconds * 1e6 < now_us:
            due += 1
        channel.push(inputs.packets[next_packet:due], now_us=now_us)
        next_packet = due
        recorder.receive(channel.pull("recorder", max_packets=100_000))
        recorder.render(now_us)
    recorder.finish(now_us)
    return recorder


def composite_frames(inputs: Inputs, seconds: float) -> list[av.VideoFrame]:
    """The pipeline's own composite frames, captured at the encoder's door (untimed)."""
    frames: list[av.VideoFrame] = []
    original = RecordingOutput.push_video

    def capture(self: RecordingOutput, frame: av.VideoFrame, t_ms: float) -> None:
        frames.append(frame)
        original(self, frame, t_ms)

    RecordingOutput.push_video = capture  # type: ignore[method-assign]
    try:
        run_pipeline(inputs, seconds, OUT / "prepass")
    finally:
        RecordingOutput.push_video = original  # type: ignore[method-assign]
    return frames


# -- (b) encode only ----------------------------------------------------------------------------


def encode_only(frames: list[av.VideoFrame], workdir: Path) -> int:
    """Same frames, same encoder, same HLS output settings as the Recorder's output."""
    fresh_dir(workdir)
    output = RecordingOutput(
        OutputConfig(
            workdir=workdir,
            sid="bench",
            cname="encode",
            prefix=[],
            start_ms=T0_US // 1000,
            width=WIDTH,
            height=HEIGHT,
            fps=FPS,
            bitrate_kbps=BITRATE_KBPS,
            slice_seconds=SLICE_S,
        ),
        lambda written: None,
    )
    for index, frame in enumerate(frames):
        output.push_video(frame, T0_US / 1000 + index * 1000 / FPS)
    output.close()
    return len(frames)


# -- (c) ffmpeg ---------------------------------------------------------------------------------


def ffmpeg_command(files: list[Path], workdir: Path) -> list[str]:
    threads = FFMPEG_THREADS  # as cloudrec's codecs, see module doc
    inputs = [arg for path in files for arg in (*threads, "-i", str(path))]
    scaled = ";".join(f"[{i}:v]scale={IN_WIDTH}:{IN_HEIGHT}[v{i}]" for i in range(USERS))
    stack = "".join(f"[v{i}]" for i in range(USERS))
    mix = "".join(f"[{i}:a]" for i in range(USERS))
    graph = f"{scaled};{stack}xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0[v];{mix}amix=inputs=4[a]"
    return [
        "ffmpeg",
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        *inputs,
        "-filter_complex_threads",
        "1",
        "-filter_complex",
        graph,
        "-map",
        "[v]",
        "-map",
        "[a]",
        "-r",
        str(FPS),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-b:v",
        f"{BITRATE_KBPS}k",
        "-g",
        str(2 * FPS),
        "-force_key_frames",
        f"expr:gte(t,n_forced*{SLICE_S:g})",
        "-pix_fmt",
        "yuv420p",
        *threads,
        "-c:a",
        "aac",
        "-b:a",
        "48k",
        "-ac",
        "1",
        "-ar",
        "48000",
        "-f",
        "hls",
        "-hls_time",
        f"{SLICE_S:g}",
        "-hls_list_size",
        "0",
        "-hls_segment_filename",
        str(workdir / "slice_%03d.ts"),
        str(workdir / "ff.m3u8"),
    ]


def have_ffmpeg() -> bool:
    if shutil.which("ffmpeg") is None:
        print("ffmpeg not found: skipping (c). Install it with: apt-get install -y ffmpeg")
        return False
    return True


def run_ffmpeg(files: list[Path], workdir: Path) -> Result:
    fresh_dir(workdir)
    before = children_cpu_s()
    began = time.perf_counter()
    subprocess.run(ffmpeg_command(files, workdir), check=True)
    wall = time.perf_counter() - began
    return Result("ffmpeg", count_frames(workdir / "ff.m3u8"), wall, children_cpu_s() - before)


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def count_frames(playlist: Path) -> int:
    """Video frames in every slice the playlist names (counted by demuxing, not decoding)."""
    names = [line for line in playlist.read_text().splitlines() if line and line[0] != "#"]
    return sum(video_packets(playlist.parent / name) for name in names)


def video_packets(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for p in container.demux(video=0) if p.size)


# -- timing and report --------------------------------------------------------------------------


def timed(name: str, work: Callable[[], int]) -> Result:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    frames = work()
    return Result(name, frames, time.perf_counter() - wall0, time.process_time() - cpu0)


STAGES = {  # label -> (file suffix, function) whose cumulative time is that stage
    "channel push+pull": [("channel/channel.py", "push"), ("channel/channel.py", "pull")],
    "decode (video+audio)": [("recorder/recorder.py", "_decode")],
    "composite": [("layout/compositor.py", "compose")],
    "audio mix": [("recorder/mixer.py", "pop_until")],
    "wait for encoder": [
        ("recorder/sink.py", name) for name in ("push_video", "push_audio", "drain", "close")
    ],
}


def profiled(work: Callable[[], int]) -> str:
    """Time per pipeline stage (cumulative), then the top functions by own time.

    cProfile sees the calling thread only: encoding (video and audio) and HLS run on the
    output's worker thread, and show here as the time spent waiting for it (queue full, close).
    """
    profile = cProfile.Profile()
    profile.runcall(work)
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text)
    total = max(row[3] for row in stats.stats.values())  # type: ignore[attr-defined]
    text.write(f"full pipeline under cProfile: {total:.2f} s\n")
    for label, functions in STAGES.items():
        spent = sum(
            row[3]
            for (path, _, name), row in stats.stats.items()  # type: ignore
            if any(path.endswith(f) and name == n for f, n in functions)
        )
        text.write(f"  {label:<22} {spent:6.2f} s  {100 * spent / total:5.1f} %\n")
    stats.sort_stats("tottime").print_stats(12)
    return text.getvalue()


def ratio(a: Result, b: Result | None, cpu: bool = False) -> float | None:
    if b is None:
        return None
    return (a.cpu_fps / b.cpu_fps) if cpu else (a.fps / b.fps)


def verdict(value: float | None, target: float) -> str:
    if value is None:
        return "SKIP"
    return "PASS" if value >= target else "MISS"


def report(results: list[Result], seconds: float, repeat: int) -> dict:
    full, encode = results[0], results[1]
    ffmpeg = results[2] if len(results) > 2 else None
    print(
        f"\nP1 composite, {seconds:g} s of media: {USERS}x {IN_WIDTH}x{IN_HEIGHT}@{FPS} -> "
        f"{WIDTH}x{HEIGHT}@{FPS} best-fit, x264 veryfast {BITRATE_KBPS}k, HLS {SLICE_S:g} s"
        f"\n(fastest of {repeat} interleaved runs each; CPU = all threads of the process)"
    )
    print(f"{'run':<8} {'frames':>7} {'wall s':>8} {'CPU s':>8} {'fps':>8} {'fps/CPU':>8}")
    for r in results:
        print(
            f"{r.name:<8} {r.frames:>7} {r.wall_s:>8.2f} {r.cpu_s:>8.2f} {r.fps:>8.1f} "
            f"{r.cpu_fps:>8.1f}"
        )
    checks = {
        "full/encode": (ratio(full, encode), ratio(full, encode, True), TARGET_VS_ENCODE),
        "full/ffmpeg": (ratio(full, ffmpeg), ratio(full, ffmpeg, True), TARGET_VS_FFMPEG),
    }
    print(f"\n{'ratio':<12} {'wall fps':>9} {'CPU fps':>9} {'target':>7}  verdict (wall)")
    for name, (wall, cpu, target) in checks.items():
        print(
            f"{name:<12} {fmt(wall):>9} {fmt(cpu):>9} {'>= ' + f'{target:g}':>7}  "
            f"{verdict(wall, target)}"
        )
    rows = [asdict(r) | {"fps": r.fps, "cpu_fps": r.cpu_fps} for r in results]
    return {
        "seconds": seconds,
        "repeat": repeat,
        "results": rows,
        "ratios": {
            name: {"wall": w, "cpu": c, "target": t, "verdict": verdict(w, t)}
            for name, (w, c, t) in checks.items()
        },
    }


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def fresh_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="media length (default 10)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each; the fastest (wall) of each is reported (default 3)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run the full pipeline under cProfile and print the top",
    )
    parser.add_argument(
        "--content",
        nargs="+",
        choices=sorted(CONTENTS),
        default=["synthetic", "camera"],
        help="inputs: flat synthetic colour, camera-like moving texture, or both (default)",
    )
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    summaries = {content: measure(content, args) for content in args.content}
    (OUT / "composite.json").write_text(json.dumps(summaries, indent=2) + "\n")
    print(f"\nwritten {OUT / 'composite.json'}")


def measure(content: str, args: argparse.Namespace) -> dict:
    """The three runs on one kind of input, interleaved; the fastest of each reported."""
    print(f"\n== {content} content: generating {USERS} publishers x {args.seconds:g} s "
          "(not timed) ...", flush=True)
    inputs = make_inputs(args.seconds, content)
    frames = composite_frames(inputs, args.seconds)
    ffmpeg = have_ffmpeg()
    runs: list[list[Result]] = []
    for attempt in range(args.repeat):  # interleaved, so background load hits all three alike
        print(f"run {attempt + 1}/{args.repeat} ...", flush=True)
        runs.append(
            [
                timed("full", lambda: run_pipeline(inputs, args.seconds, OUT / "full").frames_out),
                timed("encode", lambda: encode_only(frames, OUT / "encode")),
                *([run_ffmpeg(inputs.files, OUT / "ffmpeg")] if ffmpeg else []),
            ]
        )
    results = [min(same, key=lambda r: r.wall_s) for same in zip(*runs, strict=True)]
    print(f"\n[{content} content]", end="")
    summary = report(results, args.seconds, args.repeat)
    if args.profile:
        print(profiled(lambda: run_pipeline(inputs, args.seconds, OUT / "profile").frames_out))
    return summary


if __name__ == "__main__":
    sys.exit(main())
