"""Per-track decoders: encoded packets in, frames stamped with channel time out.

A track's channel offset (`channel_us - pts`) is learned from its packets, so decoded frames
keep the channel timeline even when the decoder reorders or delays them. A video track published
with a display rotation (a phone held upright) gives its pictures turned upright.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from typing import cast

import av
import numpy as np

from cloudrec.actors.channel.packet import MediaPacket, TrackInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TimedFrame:
    channel_us: int
    frame: av.VideoFrame | av.AudioFrame


class TrackDecoder:
    def __init__(self, track: TrackInfo) -> None:
        self.track = track
        # `create` is typed by codec-name literals; a track's codec is a run-time str
        self.context = cast("av.AudioCodecContext | av.VideoCodecContext",
                            av.CodecContext.create(track.codec, "r"))
        # one thread: a recorder is one of many on a machine, and FFmpeg's slice threads only
        # add hand-offs for a stream of one slice a picture (bench/capacity.py, P2)
        self.context.thread_count = 1
        if track.extradata:
            self.context.extradata = track.extradata
        if track.kind == "audio" and track.sample_rate:
            audio = cast(av.AudioCodecContext, self.context)
            audio.sample_rate = track.sample_rate
            audio.layout = "stereo" if track.channels == 2 else "mono"
        self.offset_us: int | None = None
        self.errors = 0

    def decode(self, packet: MediaPacket) -> list[TimedFrame]:
        """Decode one packet; a corrupt packet is counted in `errors` and skipped, never fatal
        (the recorder reports it: `corruption.CorruptionReport`)."""
        pts_us = microseconds(packet.pts, packet.time_base)
        if self.offset_us is None:
            self.offset_us = packet.channel_us - pts_us
        av_packet = av.Packet(packet.data)
        av_packet.pts = packet.pts
        av_packet.dts = packet.dts if packet.dts is not None else packet.pts
        av_packet.time_base = packet.time_base
        try:
            frames = self.context.decode(av_packet)
        except (av.error.FFmpegError, ValueError) as error:
            self.errors += 1
            log.debug("uid %s %s: undecodable packet skipped (%s)", packet.uid, packet.kind,
                      error)
            return []
        return [self._timed(frame, packet) for frame in frames]

    def _timed(self, frame: av.VideoFrame | av.AudioFrame, packet: MediaPacket) -> TimedFrame:
        if isinstance(frame, av.VideoFrame) and self.track.rotation:
            frame = upright(frame, self.track.rotation)
        if frame.pts is None or frame.time_base is None or self.offset_us is None:
            return TimedFrame(packet.channel_us, frame)
        return TimedFrame(self.offset_us + microseconds(frame.pts, frame.time_base), frame)


def microseconds(ticks: int, time_base: Fraction) -> int:
    """`int(ticks * time_base * 1_000_000)` (rounded toward zero) in integer arithmetic: the
    `Fraction` product cost ~5 us a packet, a tenth of decoding it (bench/stages.py)."""
    scaled = ticks * time_base.numerator * 1_000_000
    whole = abs(scaled) // time_base.denominator
    return whole if scaled >= 0 else -whole


def upright(frame: av.VideoFrame, rotation: int) -> av.VideoFrame:
    """`frame` turned by its display rotation (degrees counter-clockwise), as a player shows it:
    the decoder gives the picture as it was encoded, and a mix has no display matrix."""
    image = np.rot90(frame.to_ndarray(format="rgb24"), k=rotation // 90)
    turned = av.VideoFrame.from_ndarray(np.ascontiguousarray(image, np.uint8), format="rgb24")
    turned.pts, turned.time_base = frame.pts, frame.time_base
    return turned
