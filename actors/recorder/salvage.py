"""Salvaging a slice cut short by a killed recorder: keep what demuxes, rewrite it as a whole TS
(or WebM, for an individual-mode VP8/VP9 slice).

A SIGKILLed recorder leaves its slice cut at an arbitrary byte. The next generation completes it
from what was written (`Salvaged`) or drops it (`None`). Packets are copied as they are, pts/dts
included (recording time + `TS_OFFSET`, the clock all slices share), so it still lines up.

Dropped: a cut TS packet at the end; packets the demuxer flags corrupt; video before its first
key frame (undecodable); and the last packet of every stream. The demuxer hands out the PES still
open at the end of the data as it is, unflagged (video PES have no length; the AAC parser re-frames
audio), so the last packet may lack its tail and nothing tells: kept, it would decode to a broken
picture or an AAC error; dropped, it costs one frame. A WebM cut short loses its open cluster
(the muxer writes a cluster whole) and has no cues; the Matroska demuxer reads what came before,
and the same rules apply.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.stream import VideoStream

from .hls import TS_PACKET, pad_for_probing
from .segment import mux, seconds

MUXER_OPTIONS = {"mpegts_copyts": "1"}  # never offset pts/dts (FFmpeg would if max_delay were set)
WEBM = "webm"


@dataclass(frozen=True)
class Salvaged:
    path: Path
    first_s: float  # earliest pts of a kept packet, seconds on the TS clock (TS_OFFSET included)
    end_s: float  # latest pts + duration of a kept packet, same clock
    packets: int
    size: int  # bytes of the rewritten file
    has_video_key: bool


def salvage_file(path: Path) -> Salvaged | None:
    """Salvage an unfinished output file; only TS and WebM slices can be (an MP4 without index
    cannot)."""
    if path.suffix == ".webm":
        return salvage_webm(path)
    return salvage_ts(path) if path.suffix == ".ts" else None


def salvage_webm(path: Path) -> Salvaged | None:
    """Rewrite the possibly truncated WebM at `path` in place with every usable packet; None,
    leaving the file as it is, when nothing usable remains or it is no WebM at all."""
    try:
        with av.open(io.BytesIO(path.read_bytes()), "r", format="matroska") as source:
            return _salvage(path, source, WEBM)
    except av.FFmpegError:
        return None


def salvage_ts(path: Path) -> Salvaged | None:
    """Rewrite the possibly truncated TS at `path` in place with every usable packet.

    Returns None, leaving the file as it is, when nothing usable remains or it is no TS at all.
    """
    data = path.read_bytes()
    whole = io.BytesIO(data[: len(data) - len(data) % TS_PACKET])
    try:
        with av.open(whole, "r", format="mpegts") as source:
            return _salvage(path, source)
    except av.FFmpegError:
        return None


def _salvage(path: Path, source: InputContainer, form: str = "mpegts") -> Salvaged | None:
    kept = _usable(_demux(source))
    if not kept:
        return None
    first_s, end_s = _span(kept)
    has_key = any(p.is_keyframe for p in kept if p.stream.type == "video")
    return Salvaged(path, first_s, end_s, len(kept), _rewrite(path, kept, form), has_key)


def _demux(source: InputContainer) -> list[Packet[Stream]]:
    """Every timed packet up to the end of the data or the first demuxing error."""
    packets = []
    try:
        for packet in source.demux(*source.streams.video, *source.streams.audio):
            if packet.size and packet.pts is not None and packet.dts is not None:
                packets.append(packet)
    except av.FFmpegError:
        pass  # a damaged tail: what came before it stands
    return [p for p in packets if not p.is_corrupt]


def _usable(packets: list[Packet[Stream]]) -> list[Packet[Stream]]:
    for index in sorted({p.stream.index for p in packets}):
        packets = _usable_in(packets, index)
    return packets


def _usable_in(packets: list[Packet[Stream]], index: int) -> list[Packet[Stream]]:
    """Drop stream `index`'s last packet (maybe cut) and, if video, all before its first key."""
    mine = [i for i, p in enumerate(packets) if p.stream.index == index]
    video = packets[mine[0]].stream.type == "video"
    first = next((i for i in mine if packets[i].is_keyframe or not video), None)
    drop = set(mine[-1:]) | {i for i in mine if first is None or i < first}
    return [p for i, p in enumerate(packets) if i not in drop]


def _span(packets: list[Packet[Stream]]) -> tuple[float, float]:
    return float(min(map(seconds, packets))), float(max(seconds(p) + _length(p) for p in packets))


def _length(packet: Packet[Stream]) -> Fraction:
    """A packet's duration; TS video packets have none, so one frame at the stream's rate."""
    if packet.duration and packet.time_base is not None:
        return packet.duration * packet.time_base
    stream = packet.stream
    rate = stream.guessed_rate if isinstance(stream, VideoStream) else None
    return 1 / Fraction(rate) if rate else Fraction(0)


def _rewrite(path: Path, packets: list[Packet[Stream]], form: str) -> int:
    """Write `packets` to a TS (or WebM) next to `path`, then move it over `path`; the new size."""
    temp = path.with_name(f".{path.name}.salvage")
    options = {} if form == WEBM else MUXER_OPTIONS
    try:
        with av.open(str(temp), "w", format=form, options=options) as out:
            streams = _copy_streams(out, packets)
            for packet in packets:
                mux(out, streams[packet.stream.index], packet)
        if form != WEBM:
            pad_for_probing(temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path.stat().st_size


def _copy_streams(out: OutputContainer, packets: list[Packet[Stream]]) -> dict[int, Stream]:
    """The output streams, by input index: those with a packet kept, in their input order."""
    inputs = {p.stream.index: p.stream for p in packets}
    return {i: out.add_stream_from_template(inputs[i], opaque=True) for i in sorted(inputs)}
