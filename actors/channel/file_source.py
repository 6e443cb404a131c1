"""Publish a media file or URL as it is: demuxed packets, never decoded.

The first video and the first audio stream become tracks. H.264/HEVC stored length-prefixed
(MP4, MKV) are rewritten to Annex-B with the `*_mp4toannexb` bitstream filter, which repeats the
parameter sets before every keyframe, so every video packet in a channel has one framing and
needs no extradata. Audio keeps its extradata (AAC AudioSpecificConfig, OpusHead).

Media time is counted from the container's start, so `packets_until(1.0)` is the first second
even for an MPEG-TS that starts at 1.4 s; packet pts keep the file's own values.

A video stream's display rotation (the display matrix a phone writes when held upright) is
published with its track (`TrackInfo.rotation`): the packets do not carry it. PyAV shows the
matrix only on decoded frames, so a local file's first picture is decoded once, in a second
reader, to learn it (at most `ROTATION_PROBE_PACKETS` packets); a URL is not opened twice and is
published as not rotated.

Packets are released by their own decode time, not by their place in the file. Files store
tracks in chunks: an MP4 muxed video first (as PyAV writes when a program encodes all its video
before its audio) holds its audio up to a second behind its video, and the demuxer hands it over
that late. Released in file order, such audio reached the channel a second after its channel
time, later than a mix recorder waits (its jitter allowance), and the whole mix was silent. So
the source reads ahead until every track has passed the requested time (at most `READ_AHEAD_S`
beyond it, in case a track has ended) and releases each track's packets up to that time.
"""

from __future__ import annotations

import heapq
import os
from collections import deque
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import av
from av.stream import Stream

from cloudrec.actors.channel.packet import Kind, MediaPacket, TrackInfo

ANNEXB_FILTERS = {"h264": "h264_mp4toannexb", "hevc": "hevc_mp4toannexb"}
ROTATION_PROBE_PACKETS = 300
READ_AHEAD_S = 10.0  # FFmpeg's own interleaving limit (max_interleave_delta) is 10 s
Timed = tuple[float, MediaPacket]  # (decode time in seconds, packet)


class FileSource:
    """Packets of one file or URL for one publisher uid, up to a media time."""

    def __init__(
        self,
        path_or_url: str,
        uid: int = 0,
        options: dict[str, str] | None = None,
        annexb: bool = True,
    ) -> None:
        self.uid = uid
        self._container = av.open(path_or_url, options=options or {})
        self._streams = _first_streams(self._container)
        start = self._container.start_time
        self._start_seconds = start / av.time_base if start is not None else 0.0
        self._filters = {s.index: _annexb_filter(s) for s in self._streams if annexb}
        self._rotation = _display_rotation(path_or_url) if self._container.streams.video else 0
        self._packets = self._demux()
        self._read: dict[Kind, deque[Timed]] = {s.type: deque() for s in self._streams}
        self._ended = False
        self.exhausted = False

    def tracks(self) -> list[TrackInfo]:
        return [self._track(stream) for stream in self._streams]

    def packets_until(self, media_seconds: float) -> list[MediaPacket]:
        """Packets whose decode time is before `media_seconds`: each track's in file order,
        the tracks merged by time."""
        limit = media_seconds + self._start_seconds
        self._read_past(limit)
        due = [_take_before(queue, limit) for queue in self._read.values()]
        self.exhausted = self._ended and not any(self._read.values())
        return [packet for _, packet in heapq.merge(*due, key=lambda timed: timed[0])]

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> FileSource:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------

    def _read_past(self, limit: float) -> None:
        """Demux until every track has a packet at or after `limit` (or the file ends, or
        `READ_AHEAD_S` more of it has been read)."""
        while not self._ended and not self._passed(limit):
            timed = next(self._packets, None)
            if timed is None:
                self._ended = True
            else:
                self._read[timed[1].kind].append(timed)

    def _passed(self, limit: float) -> bool:
        ends = [queue[-1][0] for queue in self._read.values() if queue]
        if len(ends) == len(self._read) and min(ends) >= limit:
            return True
        return max(ends, default=limit) >= limit + READ_AHEAD_S

    def _track(self, stream: Any) -> TrackInfo:
        context = stream.codec_context
        kind: Kind = stream.type
        filtered = self._filters.get(stream.index) is not None
        extradata = None if filtered else context.extradata
        if kind == "video":
            size = {"width": context.width, "height": context.height,
                    "rotation": self._rotation}
        else:
            size = {"sample_rate": context.sample_rate, "channels": context.layout.nb_channels}
        return TrackInfo(self.uid, kind, context.name, stream.time_base, extradata, **size)

    def _demux(self) -> Iterator[tuple[float, MediaPacket]]:
        """(decode time in seconds, packet) in file order."""
        for packet in self._container.demux(*self._streams):
            bsf = self._filters.get(packet.stream.index)
            for out in bsf.filter(packet) if bsf is not None and packet.size else [packet]:
                media = self._media_packet(out, packet.stream)
                if media is not None:
                    yield media

    def _media_packet(self, packet: av.Packet[Stream],
                      stream: Any) -> tuple[float, MediaPacket] | None:
        time = packet.dts if packet.dts is not None else packet.pts
        if time is None or packet.size == 0:
            return None  # a demuxer flush packet, or one with no timing at all
        kind: Kind = stream.type
        pts = packet.pts if packet.pts is not None else time
        media = MediaPacket(
            self.uid, kind, bytes(packet), pts, stream.time_base, packet.is_keyframe,
            dts=packet.dts if packet.dts is not None and packet.dts < pts else None,
        )
        return float(time * stream.time_base), media


def _take_before(queue: deque[Timed], limit: float) -> list[Timed]:
    """The packets at the head of `queue` whose time is before `limit`, removed from it."""
    taken = []
    while queue and queue[0][0] < limit:
        taken.append(queue.popleft())
    return taken


def _first_streams(container: Any) -> list[Any]:
    streams = [*container.streams.video[:1], *container.streams.audio[:1]]
    if not streams:
        raise ValueError("no audio or video stream")
    return streams


def _annexb_filter(stream: Any) -> av.BitStreamFilterContext | None:
    name = ANNEXB_FILTERS.get(stream.codec_context.name)
    extradata = stream.codec_context.extradata or b""
    if name is None or extradata[:1] != b"\x01":  # not length-prefixed (avcC/hvcC starts 0x01)
        return None
    return av.BitStreamFilterContext(name, in_stream=stream)


def _display_rotation(path: str) -> int:
    """The first video stream's display rotation, degrees counter-clockwise (0/90/180/270), from
    its first decoded picture; 0 for a URL or a stream that gives no picture soon enough."""
    if not os.path.isfile(path):
        return 0
    with av.open(path) as container:
        stream = container.streams.video[0]
        for count, packet in enumerate(container.demux(stream)):
            if count >= ROTATION_PROBE_PACKETS:
                break
            for frame in _decoded(stream.codec_context, packet):
                return int(round(frame.rotation / 90) * 90 % 360)
    return 0


def _decoded(context: Any, packet: Any) -> list[av.VideoFrame]:
    """The frames of `packet`; none if the decoder refuses it (a stream that starts without a
    key frame, a damaged packet)."""
    try:
        return list(context.decode(packet))
    except av.error.FFmpegError:
        return []
