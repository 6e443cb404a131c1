"""Individual mode: a VP8 or VP9 video slice, remuxed into WebM (§13.1, §13.4).

A TS cannot carry VP8 or VP9, so a web sender's video goes into WebM slices instead, listed in the
same playlist as TS slices would be. Packets are written as received (no re-encode), on the same
clock as the TS slices (channel time − recording start + `TS_OFFSET`; WebM keeps milliseconds).
VP8 is never force-cut (§13.3): a WebM slice always starts on a key frame, so it decodes alone.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

import av
from av.container import OutputContainer
from av.stream import Stream

from cloudrec.actors.channel.packet import MediaPacket, TrackInfo

from .hls import FLUSHED

if TYPE_CHECKING:
    from .track_output import TrackTarget

WEBM_CODECS = frozenset({"vp8", "vp9"})
TIME_BASE = Fraction(1, 90_000)  # what the caller's timestamps count; WebM stores milliseconds


class WebmSlice:
    """One open WebM file holding one VP8 or VP9 video stream, muxed without a codec context."""

    forced_cut = False  # §13.3: VP8 is never cut without a key frame

    def __init__(self, target: TrackTarget, track: TrackInfo, start_us: int) -> None:
        self.start_us = self.end_us = start_us
        self.key = target.slice_key(start_us // 1000, extension="webm")
        self.path = target.path(self.key)
        self._container: OutputContainer = av.open(str(self.path), "w", format="webm",
                                                    options=FLUSHED)
        self._stream = _video_stream(self._container, track)
        self.size = 0  # payload bytes written so far

    def write(self, packet: MediaPacket, ts: int, dts: int, end_us: int) -> None:
        muxed = av.Packet(packet.data)
        muxed.pts, muxed.dts = ts, dts
        muxed.time_base = TIME_BASE
        muxed.is_keyframe = packet.keyframe
        muxed.stream = self._stream
        self._container.mux(muxed)
        self.size += len(packet.data)
        self.end_us = max(self.end_us, end_us)

    def close(self, end_us: int | None = None) -> float:
        """Close the file; its duration in seconds (to `end_us`, else its last packet's end)."""
        self._container.close()
        if end_us is not None:
            self.end_us = end_us
        return (self.end_us - self.start_us) / 1_000_000


def _video_stream(container: OutputContainer, track: TrackInfo) -> Stream:
    stream = container.add_mux_stream(track.codec, width=track.width, height=track.height)
    stream.time_base = TIME_BASE
    return stream
