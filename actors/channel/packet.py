"""What travels from a channel to its recorders: encoded packets, never decoded frames.

A publisher announces each track once (`TrackInfo`: codec, extradata, geometry) and then sends
`MediaPacket`s. The channel stamps every packet with its place on the channel timeline
(`channel_us`, microseconds of UTC wall clock): `channel_us = offset + pts * time_base`, where the
offset is fixed at the track's first packet (see shared/spec/media-timing.md).

A dual-stream sender publishes its video twice, as two layers of one (uid, "video") track: the
high (big) stream and a low (small) one, the same pictures at the same timestamps (`layers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

Kind = Literal["audio", "video"]
HIGH, LOW = 0, 1  # video layers of a dual-stream sender: the high (big) and low (small) stream


@dataclass(frozen=True, slots=True)
class TrackInfo:
    """A published track: enough to build its decoder."""

    uid: int
    kind: Kind
    codec: str  # FFmpeg decoder name: "h264", "opus", "aac", ...
    time_base: Fraction
    extradata: bytes | None = None
    width: int = 0
    height: int = 0
    sample_rate: int = 0
    channels: int = 0
    generation: int = 0  # bumps on every (re)publish; a new generation needs a new decoder
    rotation: int = 0  # display rotation, degrees counter-clockwise: 0, 90, 180 or 270
    layer: int = HIGH  # video of a dual-stream sender: HIGH (big) or LOW (small); audio: HIGH


@dataclass(frozen=True, slots=True)
class MediaPacket:
    """One encoded packet of one track."""

    uid: int
    kind: Kind
    data: bytes
    pts: int
    time_base: Fraction
    keyframe: bool = False
    channel_us: int = 0  # set by the channel when the packet arrives
    generation: int = 0  # TrackInfo.generation this packet belongs to
    dts: int | None = None  # decode time in `time_base` when it precedes pts (B-frames)
    layer: int = HIGH  # TrackInfo.layer of its track

    @property
    def seconds(self) -> float:
        return float(self.pts * self.time_base)

    @property
    def decode_us(self) -> int:
        """The channel time at which this packet is decoded: `channel_us`, earlier by the
        pts - dts reordering delay of B-frames."""
        if self.dts is None or self.dts >= self.pts:
            return self.channel_us
        return self.channel_us - round((self.pts - self.dts) * self.time_base * 1_000_000)
