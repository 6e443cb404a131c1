"""Cutting one encoded timeline into consecutive files (TS slices, MP4 parts).

Video decides: a part ends just before a video key frame that its sink asks to cut at (§13.3,
"cut on the next key frame after 15 s"). Audio packets wait until the video has passed them, so an
audio packet always lands in the part whose time span holds it, even though the video encoder's
look-ahead makes video packets come out later than audio of the same time.

Times handed to sinks are seconds of recording time (`Fraction`), the same for every sink.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction
from typing import Protocol

from av.container import OutputContainer
from av.packet import Packet
from av.stream import Stream

from .timebase import convert


class PartSink(Protocol):
    def wants_cut(self, at: Fraction) -> bool: ...
    def open(self, start: Fraction) -> None: ...
    def write(self, packet: Packet[Stream], kind: str) -> None: ...
    def close(self, end: Fraction, last: bool) -> None: ...


def seconds(packet: Packet[Stream]) -> Fraction:
    assert packet.pts is not None and packet.time_base is not None
    return packet.pts * packet.time_base


def mux(
    container: OutputContainer,
    stream: Stream,
    packet: Packet[Stream],
    shift: Fraction = Fraction(0),
) -> None:
    """Mux `packet` into `stream` `shift` seconds earlier, leaving the packet as it was.

    Muxing rescales a packet's timestamps in place; the same packet goes to several containers.
    """
    pts, dts, time_base = packet.pts, packet.dts, packet.time_base
    assert time_base is not None
    ticks = convert(shift, Fraction(1), time_base)
    packet.pts = None if pts is None else pts - ticks
    packet.dts = None if dts is None else dts - ticks
    packet.stream = stream
    container.mux(packet)
    packet.time_base, packet.pts, packet.dts = time_base, pts, dts


class Cutter:
    def __init__(self, sink: PartSink, frame_seconds: Fraction) -> None:
        self._sink = sink
        self._frame = frame_seconds
        self._audio: deque[Packet[Stream]] = deque()
        self._video_end: Fraction | None = None  # end of the latest video frame seen
        self._video_max: Fraction | None = None  # largest video pts seen

    def push(self, packet: Packet[Stream], kind: str) -> None:
        if kind == "video":
            self._push_video(packet)
        else:
            self._audio.append(packet)
        if self._video_max is not None:
            self._release_audio(before=self._video_max)

    def finish(self) -> None:
        """Write what is left and close the last part."""
        if self._video_max is None and self._audio:
            self._video_end = seconds(self._audio[-1])
            self._sink.open(seconds(self._audio[0]))  # audio only: no video ever came
        self._release_audio(before=None)
        if self._video_end is not None:
            self._sink.close(self._video_end, last=True)

    def _push_video(self, packet: Packet[Stream]) -> None:
        at = seconds(packet)
        if self._video_max is None:
            self._sink.open(at)
        elif packet.is_keyframe and self._sink.wants_cut(at):
            self._release_audio(before=at)
            self._sink.close(at, last=False)
            self._sink.open(at)
        self._sink.write(packet, "video")
        self._video_max = at if self._video_max is None else max(self._video_max, at)
        self._video_end = self._video_max + self._frame

    def _release_audio(self, before: Fraction | None) -> None:
        while self._audio and (before is None or seconds(self._audio[0]) < before):
            self._sink.write(self._audio.popleft(), "audio")
