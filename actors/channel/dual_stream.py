"""A dual-stream sender (`cloudrec publish --dual-stream`): any source's video, twice.

The source's own video packets are the high (big) stream, layer `HIGH`, untouched; each is also
decoded, scaled down (`LOW_SCALE`: half the width and height) and encoded again with libx264 as
the low (small) stream, layer `LOW`: the same pictures with the same timestamps, key frames where
the high stream has them, so both layers can be joined at the same points. The low stream is
H.264 whatever the high one's codec (no B-frames, SPS/PPS before every key frame, as the
synthetic publisher's). Audio passes through. A recording picks a layer with `videoStreamType`
(`layers`).

A high packet the decoder refuses (damaged media) is still sent; the low stream just has no
picture for it.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import cast

import av
from av.stream import Stream
from av.video.frame import PictureType

from cloudrec.actors.channel.packet import LOW, MediaPacket, TrackInfo
from cloudrec.actors.channel.publisher import Source

LOW_SCALE = 2  # the low stream is 1/LOW_SCALE of the high one's width and height
LOW_FPS_HINT = Fraction(30)  # rate control only: the frames keep their own timestamps


def low_size(width: int, height: int, scale: int = LOW_SCALE) -> tuple[int, int]:
    """The low stream's picture size: even numbers, as 4:2:0 needs."""
    return max(2, width // scale // 2 * 2), max(2, height // scale // 2 * 2)


def low_track(high: TrackInfo, scale: int = LOW_SCALE) -> TrackInfo:
    width, height = low_size(high.width, high.height, scale)
    return replace(high, codec="h264", extradata=None, width=width, height=height, layer=LOW,
                   generation=0)


class DualStream:
    """`source` with a low video layer made from its video."""

    def __init__(self, source: Source, scale: int = LOW_SCALE) -> None:
        self.source = source
        self._tracks = source.tracks()
        high = next((t for t in self._tracks if t.kind == "video"), None)
        self._low = None if high is None else _LowEncoder(high, low_track(high, scale))

    @property
    def exhausted(self) -> bool:
        return bool(getattr(self.source, "exhausted", False))

    def tracks(self) -> list[TrackInfo]:
        low = [self._low.track] if self._low is not None else []
        return [*self._tracks, *low]

    def packets_until(self, media_seconds: float) -> list[MediaPacket]:
        packets = self.source.packets_until(media_seconds)
        if self._low is None:
            return packets
        low = [out for p in packets if p.kind == "video" for out in self._low.encode(p)]
        if self.exhausted:
            low += self._low.flush()
        return packets + low


class _LowEncoder:
    """Decodes high packets, encodes their pictures at the low size."""

    def __init__(self, high: TrackInfo, low: TrackInfo) -> None:
        self.track = low
        self._decoder = cast(av.VideoCodecContext, av.CodecContext.create(high.codec, "r"))
        if high.extradata:
            self._decoder.extradata = high.extradata
        self._decoder.thread_type = "SLICE"  # frame threads would hold pictures back
        self._encoder = _h264_encoder(low.width, low.height, low.time_base)
        self._flushed = False

    def encode(self, packet: MediaPacket) -> list[MediaPacket]:
        return self._encode_frames(self._decode(_av_packet(packet)))

    def flush(self) -> list[MediaPacket]:
        """The pictures still held at the source's end, once."""
        if self._flushed:
            return []
        self._flushed = True
        frames = self._decode(None)
        return self._encode_frames(frames) + self._packets(self._encoder.encode(None))

    def _decode(self, packet: av.Packet[Stream] | None) -> list[av.VideoFrame]:
        try:
            return list(self._decoder.decode(packet))
        except av.error.FFmpegError:
            return []

    def _encode_frames(self, frames: list[av.VideoFrame]) -> list[MediaPacket]:
        return [out for frame in frames for out in self._packets(self._encoder.encode(
            self._scaled(frame)))]

    def _scaled(self, frame: av.VideoFrame) -> av.VideoFrame:
        small = frame.reformat(width=self.track.width, height=self.track.height,
                               format="yuv420p")
        small.pts, small.time_base = frame.pts, self.track.time_base
        small.pict_type = PictureType.I if frame.key_frame else PictureType.NONE
        return small

    def _packets(self, encoded: list[av.Packet[Stream]]) -> list[MediaPacket]:
        t = self.track
        return [MediaPacket(t.uid, "video", bytes(p), p.pts if p.pts is not None else 0,
                            t.time_base, bool(p.is_keyframe), layer=LOW) for p in encoded]


def _av_packet(packet: MediaPacket) -> av.Packet[Stream]:
    out = av.Packet(packet.data)
    out.pts, out.dts = packet.pts, packet.dts if packet.dts is not None else packet.pts
    out.time_base = packet.time_base
    return out


def _h264_encoder(width: int, height: int, time_base: Fraction) -> av.VideoCodecContext:
    """Key frames only where asked for (`forced-idr`: the high stream's), no B-frames."""
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base, encoder.framerate = time_base, LOW_FPS_HINT
    encoder.gop_size, encoder.max_b_frames = 100_000, 0
    params = "keyint=infinite:scenecut=0:bframes=0:repeat-headers=1:forced-idr=1"
    encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "x264-params": params}
    encoder.open()
    return encoder
