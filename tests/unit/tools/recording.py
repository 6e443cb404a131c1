"""Individual-mode recordings written the way cloudrec's individual recorder writes them.

A `Run` is one stretch a user published: H.264 video (a solid colour, a white frame at each
flash) and Opus or AAC audio (a quiet 440 Hz tone, a loud 1 kHz burst at each flash), each encoded
continuously and cut into MPEG-TS slices named by their first packet's UTC time. TS timestamps
count from the recording's start plus 10 s, not from UTC; each (re)start gets a discontinuity and
a START tag in the playlist.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from cloudrec.actors.recorder.playlist import Playlist
from cloudrec.actors.recorder.timebase import utc17

T0 = 1_700_000_000_000  # UTC ms: the recording starts here
RATE = 48000
SID, CNAME = "sid0a1b", "room_7"
TS_OFFSET = 10.0  # seconds added to recording time in TS timestamps
FLASH_SECONDS = 0.1
HOLD = 10  # seconds added while encoding so that encoder priming stays non-negative
_OPEN: list = []  # in-memory publisher streams kept open as slice templates


@dataclass
class Run:
    start_ms: int  # UTC
    seconds: float
    size: tuple[int, int] = (160, 120)
    colour: tuple[int, int, int] = (160, 30, 30)
    flashes_ms: list[int] = field(default_factory=list)  # UTC instants of white frame + burst


def prefix(folder: Path, uid: int, kind: str) -> Path:
    return folder / f"{SID}_{CNAME}__uid_s_{uid}__uid_e_{kind}"


def record(folder: Path, uid: int, runs: list[Run], audio: str | None = "libopus",
           video: bool = True, slice_seconds: float = 4.0) -> None:
    """Write a user's playlists and slices for `runs` into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    if audio:
        _track(folder, uid, "audio", runs, lambda run: _audio_packets(run, audio), slice_seconds)
    if video:
        _track(folder, uid, "video", runs, _video_packets, slice_seconds)


def _track(folder, uid, kind, runs, packets_of, slice_seconds) -> None:
    playlist = Playlist()
    for run in runs:
        playlist.add_discontinuity()
        playlist.mark_track_start(kind.upper(), run.start_ms)
        stream, packets = packets_of(run)
        for chunk in _chunks(packets, slice_seconds, kind):
            name, duration = _write_slice(folder, uid, kind, run, stream, chunk)
            playlist.add_segment(name, duration)
    path = prefix(folder, uid, kind).with_suffix(".m3u8")
    path.write_text(playlist.render(ended=True))


def _chunks(packets, slice_seconds, kind):
    chunk, start = [], None
    for packet in packets:
        at = float(packet.pts * packet.time_base)
        cut = start is not None and at - start >= slice_seconds
        if cut and (kind == "audio" or packet.is_keyframe):
            yield chunk
            chunk, start = [], None
        start = at if start is None else start
        chunk.append(packet)
    if chunk:
        yield chunk


def _write_slice(folder, uid, kind, run, stream, chunk) -> tuple[str, float]:
    first = min(p.pts for p in chunk) * chunk[0].time_base
    last = max((p.pts + (p.duration or 0)) for p in chunk) * chunk[0].time_base
    name = prefix(folder, uid, kind).name + f"_{utc17(run.start_ms + round(first * 1000))}.ts"
    shift = (run.start_ms - T0) / 1000 + TS_OFFSET  # TS time = recording time + offset
    _mux_slice(folder / name, [(stream, chunk)], shift)
    return name, float(last - first)


def _mux_slice(path: Path, tracks, shift: float) -> None:
    with av.open(str(path), "w", format="mpegts") as out:
        targets = [out.add_stream_from_template(stream) for stream, _ in tracks]
        timeline = [(p.dts * p.time_base, i, p) for i, (_, ps) in enumerate(tracks) for p in ps]
        for _, index, packet in sorted(timeline, key=lambda item: item[0]):
            ticks = round(Fraction(shift) / packet.time_base)
            copy = av.Packet(bytes(packet))
            copy.pts, copy.dts = packet.pts + ticks, packet.dts + ticks
            copy.time_base, copy.stream = packet.time_base, targets[index]
            copy.is_keyframe = packet.is_keyframe
            out.mux(copy)


def _video_packets(run: Run, fps: int = 30):
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mpegts") as holder:
        stream = holder.add_stream("libx264", rate=fps)
        stream.width, stream.height = run.size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.options = {"g": str(fps), "preset": "ultrafast"}
        for index in range(round(run.seconds * fps)):
            frame = av.VideoFrame.from_ndarray(_picture(run, index, fps), format="rgb24")
            frame.pts, frame.time_base = index + HOLD * fps, Fraction(1, fps)
            holder.mux(stream.encode(frame))
        holder.mux(stream.encode(None))
    return _demuxed(buffer)


def _demuxed(buffer: io.BytesIO):
    """The publisher's packets as a recorder receives them: read back from an MPEG-TS stream."""
    buffer.seek(0)
    container = av.open(buffer, "r", format="mpegts")
    _OPEN.append(container)  # its stream is the template of every slice
    stream = container.streams[0]
    packets = [p for p in container.demux(stream) if p.dts is not None and p.size]
    origin = round(HOLD / packets[0].time_base)  # packet times count from the run's start
    for packet in packets:
        packet.pts, packet.dts = packet.pts - origin, packet.dts - origin
    return stream, packets


def _picture(run: Run, index: int, fps: int) -> np.ndarray:
    width, height = run.size
    at = run.start_ms + index * 1000 / fps
    white = any(f <= at < f + FLASH_SECONDS * 1000 for f in run.flashes_ms)
    return np.full((height, width, 3), 255 if white else run.colour, np.uint8)


def _audio_packets(run: Run, codec: str):
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mpegts") as holder:
        stream = holder.add_stream(codec, rate=RATE, layout="mono")
        for first in range(0, round(run.seconds * RATE), 960):
            frame = av.AudioFrame.from_ndarray(_tone(run, first, 960)[None, :], format="flt",
                                               layout="mono")
            frame.sample_rate, frame.time_base = RATE, Fraction(1, RATE)
            frame.pts = first + HOLD * RATE
            holder.mux(stream.encode(frame))
        holder.mux(stream.encode(None))
    return _demuxed(buffer)


def _tone(run: Run, first: int, size: int) -> np.ndarray:
    t = (first + np.arange(size)) / RATE
    utc_ms = run.start_ms + t * 1000
    burst = np.zeros(size, bool)
    for flash in run.flashes_ms:
        burst |= (utc_ms >= flash) & (utc_ms < flash + FLASH_SECONDS * 1000)
    quiet = 0.1 * np.sin(2 * np.pi * 440 * t)
    loud = 0.6 * np.sin(2 * np.pi * 1000 * t)
    return np.where(burst, loud, quiet).astype(np.float32)


def record_composite(folder: Path, run: Run, slice_seconds: float = 4.0) -> Path:
    """A mix-mode playlist `<sid>_<cname>.m3u8` of H.264 + AAC slices; returns the playlist."""
    folder.mkdir(parents=True, exist_ok=True)
    video, video_packets = _video_packets(run)
    audio, audio_packets = _audio_packets(run, "aac")
    playlist = Playlist()
    pending = sorted(audio_packets, key=lambda p: p.pts * p.time_base)
    for chunk in _chunks(video_packets, slice_seconds, "video"):
        end = max(p.pts for p in chunk) * chunk[0].time_base + Fraction(1, 30)
        sound = [p for p in pending if p.pts * p.time_base < end]
        pending = pending[len(sound):]
        first = min(p.pts for p in chunk) * chunk[0].time_base
        name = f"{SID}_{CNAME}_{utc17(run.start_ms + round(first * 1000))}.ts"
        _mux_slice(folder / name, [(video, chunk), (audio, sound + (pending if not _more(
            chunk, video_packets) else []))], (run.start_ms - T0) / 1000 + TS_OFFSET)
        playlist.add_segment(name, float(end - first))
    path = folder / f"{SID}_{CNAME}.m3u8"
    path.write_text(playlist.render(ended=True))
    return path


def _more(chunk, packets) -> bool:
    return chunk[-1] is not packets[-1]


def decoded_video(path: Path) -> Iterator[tuple[float, np.ndarray]]:
    """(seconds, rgb array) of every frame in the file."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield float(frame.time), frame.to_ndarray(format="rgb24")


def decoded_audio(path: Path) -> tuple[float, np.ndarray]:
    """(start seconds, mono float samples at 48 kHz) of the file's audio."""
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        start, chunks = None, []
        for frame in container.decode(audio=0):
            start = float(frame.time) if start is None else start
            chunks += [f.to_ndarray()[0] for f in resampler.resample(frame)]
        return start or 0.0, np.concatenate(chunks)
