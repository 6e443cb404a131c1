"""A media conformance corpus the tests make themselves: short real files encoded with PyAV.

Each `Case` is one publisher's file: a solid colour (so its region can be checked in a mix) and a
sine tone (so its voice can be measured in a mix), in the codec, rate, layout and container real
senders use, optionally damaged the way networks and senders damage media: packets lost, packets
corrupted, a stream that starts without its key frame. `write(case, path)` encodes it (3 s,
160x90 unless the case says otherwise); the damage is done while muxing, so the file holds it.
No downloads, no binary fixtures.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

SECONDS = 3.0
FPS = 15
SIZE = (160, 90)
AMPLITUDE = 0.3  # as the synthetic publishers: a mix of both is compared tone to tone
COLOR = (255, 0, 0)
TURNED_COLOR = (0, 0, 255)  # the right half of a rotated case's picture: which way is up
TONE = 300.0


@dataclass(frozen=True)
class Video:
    encoder: str  # "libx264", "libvpx", "libvpx-vp9"
    profile: str | None = None  # H.264: "baseline", "main", "high"
    b_frames: int = 0
    resize_at: float | None = None  # media seconds at which the picture size changes
    rotation: int = 0  # display matrix, degrees counter-clockwise

    @property
    def codec(self) -> str:
        """The FFmpeg decoder name a channel track carries."""
        return {"libx264": "h264", "libvpx": "vp8", "libvpx-vp9": "vp9"}[self.encoder]


@dataclass(frozen=True)
class Audio:
    encoder: str  # "aac", "libopus", "pcm_mulaw", "pcm_alaw"
    rate: int = 48_000
    channels: int = 1

    @property
    def codec(self) -> str:
        return {"libopus": "opus"}.get(self.encoder, self.encoder)


@dataclass(frozen=True)
class Case:
    name: str
    container: str  # file extension: "mp4", "mkv", "webm", "mov"
    video: Video | None
    audio: Audio | None
    damage: str | None = None  # "lost", "corrupt", "no_key_frame"
    interleaved: bool = True  # False: all video muxed before the audio (issue 12's MP4s)
    color: tuple[int, int, int] = COLOR
    tone_hz: float = TONE
    seconds: float = SECONDS

    def __str__(self) -> str:
        return self.name


H264 = Video("libx264", "high")
CASES = [
    Case("h264-baseline_aac-8k-mono", "mp4", Video("libx264", "baseline"), Audio("aac", 8_000)),
    Case("h264-main_aac-16k-stereo", "mp4", Video("libx264", "main"), Audio("aac", 16_000, 2)),
    Case("h264-main-bframes_aac-32k-mono", "mp4", Video("libx264", "main", 2),
         Audio("aac", 32_000)),
    Case("h264-high_aac-44k-stereo", "mp4", H264, Audio("aac", 44_100, 2)),
    Case("h264-high-bframes_aac-48k-stereo", "mp4", Video("libx264", "high", 2),
         Audio("aac", 48_000, 2)),
    Case("h264-baseline_aac-16k-mono", "mkv", Video("libx264", "baseline"), Audio("aac", 16_000)),
    Case("h264-main_aac-32k-stereo", "mkv", Video("libx264", "main"), Audio("aac", 32_000, 2)),
    Case("h264-high_aac-44k-mono", "mkv", H264, Audio("aac", 44_100)),
    Case("h264-high_aac-48k-mono", "mp4", H264, Audio("aac", 48_000)),
    Case("h264-main_aac-8k-stereo", "mp4", Video("libx264", "main"), Audio("aac", 8_000, 2)),
    Case("h264-high_aac-48k-mono_video-first", "mp4", H264, Audio("aac"), interleaved=False),
    Case("vp8_opus-mono", "webm", Video("libvpx"), Audio("libopus")),
    Case("vp9_opus-stereo", "webm", Video("libvpx-vp9"), Audio("libopus", channels=2)),
    Case("h264_pcm-mulaw", "mov", H264, Audio("pcm_mulaw", 8_000)),
    Case("h264_pcm-alaw", "mov", H264, Audio("pcm_alaw", 8_000)),
    Case("h264-resized_aac", "ts", Video("libx264", "high", resize_at=1.5), Audio("aac")),
    Case("vp8-resized_opus", "webm", Video("libvpx", resize_at=1.5), Audio("libopus")),
    Case("h264-rotated-90_aac", "mp4", Video("libx264", "high", rotation=90), Audio("aac")),
    Case("h264-no-key-frame_aac", "mp4", H264, Audio("aac"), damage="no_key_frame"),
    Case("vp8-no-key-frame_opus", "webm", Video("libvpx"), Audio("libopus"),
         damage="no_key_frame"),
    Case("h264-lost_aac-lost", "mp4", H264, Audio("aac", 44_100, 2), damage="lost"),
    Case("vp8-lost_opus-lost", "webm", Video("libvpx"), Audio("libopus"), damage="lost"),
    Case("h264-corrupt_aac-corrupt", "mp4", H264, Audio("aac"), damage="corrupt"),
    Case("vp9-corrupt_opus-corrupt", "webm", Video("libvpx-vp9"), Audio("libopus"),
         damage="corrupt"),
]


def write(case: Case, path: Path) -> None:
    """Encode `case` into `path` (its extension chooses the container)."""
    rng = random.Random(case.name)
    with av.open(str(path), "w") as container:
        video = _video_stream(container, case.video) if case.video else None
        audio = _audio_stream(container, case.audio) if case.audio else None
        packets = []
        if video is not None and case.video is not None:
            packets += _damaged(case.damage, list(_video_packets(video, case)), rng)
        if audio is not None and case.audio is not None:
            packets += _damaged(case.damage, list(_audio_packets(audio, case)), rng)
        for packet in sorted(packets, key=_seconds) if case.interleaved else packets:
            container.mux(packet)


def _seconds(packet: av.Packet) -> float:
    time = packet.dts if packet.dts is not None else packet.pts
    assert time is not None and packet.time_base is not None
    return float(time * packet.time_base)


# -- video ---------------------------------------------------------------------------------

def _video_stream(container: Any, spec: Video) -> Any:
    if spec.resize_at is not None:  # packets of two encoders: see `_resized_packets`
        return container.add_mux_stream(spec.codec, width=SIZE[0], height=SIZE[1])
    stream = container.add_stream(spec.encoder, rate=FPS)
    _configure(stream.codec_context, spec, SIZE)
    if spec.rotation:
        stream.set_display_rotation(spec.rotation)
    return stream


def _configure(context: Any, spec: Video, size: tuple[int, int]) -> None:
    context.width, context.height = size
    context.pix_fmt = "yuv420p"
    context.time_base = Fraction(1, FPS)
    context.framerate = FPS
    context.gop_size = FPS  # a key frame every second
    context.max_b_frames = spec.b_frames
    context.bit_rate = 300_000
    if spec.encoder == "libx264":
        context.profile = spec.profile
        preset = "ultrafast" if spec.profile == "baseline" else "veryfast"
        params = f"bframes={spec.b_frames}:b-adapt=0:keyint={FPS}:scenecut=0"
        context.options = {"x264-params": params, "preset": preset}
    else:
        context.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}


def _video_packets(stream: Any, case: Case) -> Iterator[av.Packet]:
    assert case.video is not None
    if case.video.resize_at is not None:
        yield from _resized_packets(stream, case, case.video.resize_at)
        return
    for i in range(int(case.seconds * FPS)):
        yield from stream.encode(_frame(case, SIZE, i))
    yield from stream.encode(None)


def _resized_packets(stream: Any, case: Case, at: float) -> Iterator[av.Packet]:
    """The picture doubles in size at `at` seconds, as a sender that changes resolution does:
    an encoder cannot change size, so a second one takes over with a key frame (for H.264 with
    new in-band parameter sets: Annex-B throughout, so the container is a TS)."""
    assert case.video is not None
    cut = int(at * FPS)
    for size, frames in [(SIZE, range(cut)),
                         ((SIZE[0] * 2, SIZE[1] * 2), range(cut, int(case.seconds * FPS)))]:
        encoder = av.CodecContext.create(case.video.encoder, "w")
        _configure(encoder, case.video, size)
        out = [p for i in frames for p in encoder.encode(_frame(case, size, i))]
        for packet in [*out, *encoder.encode(None)]:
            packet.stream, packet.time_base = stream, Fraction(1, FPS)
            yield packet


def _frame(case: Case, size: tuple[int, int], index: int) -> av.VideoFrame:
    halves = case.video is not None and case.video.rotation != 0
    frame = picture(*size, index, halves, case.color)
    frame.pts, frame.time_base = index, Fraction(1, FPS)
    return frame


def picture(width: int, height: int, index: int, halves: bool = False,
            color: tuple[int, int, int] = COLOR) -> av.VideoFrame:
    """The case colour with a small moving grey marker in a corner row (motion to encode); with
    `halves`, the right half in `TURNED_COLOR`, so a rotation shows."""
    image = np.empty((height, width, 3), np.uint8)
    image[:] = color
    if halves:
        image[:, width // 2 :] = TURNED_COLOR
    x = (index * 4) % max(1, width - 8)
    image[:6, x : x + 8] = 128
    return av.VideoFrame.from_ndarray(image, format="rgb24")


# -- audio ---------------------------------------------------------------------------------

def _audio_stream(container: Any, spec: Audio) -> Any:
    layout = "mono" if spec.channels == 1 else "stereo"
    stream = container.add_stream(spec.encoder, rate=spec.rate, layout=layout)
    if spec.encoder == "aac":
        stream.codec_context.bit_rate = 32_000 * spec.channels
    return stream


def _audio_packets(stream: Any, case: Case) -> Iterator[av.Packet]:
    spec = case.audio
    assert spec is not None
    size = stream.codec_context.frame_size or 1024
    wave = tone(spec.rate, spec.channels, case.seconds, case.tone_hz)
    fmt = stream.codec_context.format.name
    for start in range(0, wave.shape[1] - size + 1, size):
        block = wave[:, start : start + size]
        frame = _audio_frame(block, fmt, spec.channels)
        frame.sample_rate, frame.pts = spec.rate, start
        frame.time_base = Fraction(1, spec.rate)
        yield from stream.encode(frame)
    yield from stream.encode(None)


def tone(rate: int, channels: int, seconds: float = SECONDS, hz: float = TONE) -> np.ndarray:
    """The case tone, float, shape (channels, samples): the same sine in every channel."""
    t = np.arange(int(seconds * rate)) / rate
    wave = (AMPLITUDE * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.tile(wave, (channels, 1))


def _audio_frame(block: np.ndarray, fmt: str, channels: int) -> av.AudioFrame:
    layout = "mono" if channels == 1 else "stereo"
    if fmt.startswith("s16"):
        block = (block * 32767).astype(np.int16)
    if not fmt.endswith("p"):  # packed: samples interleaved in one plane
        block = block.T.reshape(1, -1)
    return av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format=fmt, layout=layout)


# -- damage --------------------------------------------------------------------------------

def _damaged(damage: str | None, packets: list[av.Packet], rng: random.Random
             ) -> list[av.Packet]:
    if damage == "no_key_frame":
        return _without_first_key_frame(packets)
    if damage == "lost":  # one in six lost after the first second, key frames among them
        return [p for i, p in enumerate(packets) if _seconds(p) < 1.0 or i % 6 != 3]
    if damage == "corrupt":  # one in five garbled between 1 s and 2 s
        return [_garbled(p, rng) if 1.0 <= _seconds(p) < 2.0 and i % 5 == 2 else p
                for i, p in enumerate(packets)]
    return packets


def _without_first_key_frame(packets: list[av.Packet]) -> list[av.Packet]:
    """Video: the first packet (the key frame) lost, so the stream starts with what refers to
    it. Audio is left alone."""
    if not packets or packets[0].stream.type != "video":
        return packets
    return packets[1:]


def _garbled(packet: av.Packet, rng: random.Random) -> av.Packet:
    data = bytearray(bytes(packet))
    for _ in range(max(1, len(data) // 4)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    out = av.Packet(bytes(data))
    out.pts, out.dts, out.time_base = packet.pts, packet.dts, packet.time_base
    out.is_keyframe, out.stream = packet.is_keyframe, packet.stream
    return out
