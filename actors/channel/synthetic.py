"""A synthetic publisher: a solid colour with a moving marker, and a sine tone, really encoded.

Video is H.264 from libx264 (no B-frames, a keyframe every `gop_seconds`, Annex-B with SPS/PPS
repeated before every keyframe, so a decoder needs no extradata); audio is Opus from libopus
(48 kHz mono, 20 ms frames). Opus packets start at pts -312: the encoder's pre-skip.
"""

from __future__ import annotations

import colorsys
from fractions import Fraction

import av
import numpy as np
from av.stream import Stream

from cloudrec.actors.channel.packet import Kind, MediaPacket, TrackInfo

RGB = tuple[int, int, int]
VIDEO_TIME_BASE = Fraction(1, 90_000)
AUDIO_FRAMES_PER_SECOND = 50  # 20 ms Opus frames
MARKER_SIZE = 16
MARKER_COLOR: RGB = (255, 255, 255)
AMPLITUDE = 0.3

PALETTE: list[tuple[RGB, float]] = [
    ((255, 0, 0), 300.0),
    ((0, 255, 0), 500.0),
    ((0, 0, 255), 700.0),
    ((255, 255, 0), 900.0),
    ((0, 255, 255), 1100.0),
    ((255, 0, 255), 1300.0),
    ((255, 128, 0), 1500.0),
    ((128, 0, 255), 1700.0),
]


def publisher_colors(n: int) -> list[tuple[RGB, float]]:
    """`n` distinct (colour, tone) pairs: the palette first, then evenly spread hues."""
    spread = max(1, n - len(PALETTE))
    extra = [(_hue((i + 0.5) / spread), 1900.0 + 200.0 * i) for i in range(spread)]
    return (PALETTE + extra)[:n]


def _hue(h: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h, 0.6, 0.8)
    return (round(r * 255), round(g * 255), round(b * 255))


def synthetic_publishers(n: int, first_uid: int = 1, **options: int) -> list[SyntheticPublisher]:
    """`n` publishers with uids from `first_uid`, each its own colour and tone."""
    looks = enumerate(publisher_colors(n))
    return [SyntheticPublisher(first_uid + i, color, tone, **options) for i, (color, tone) in looks]


class SyntheticPublisher:
    """Generates encoded audio and video packets of one user on demand, up to a media time."""

    def __init__(
        self,
        uid: int,
        color: RGB,
        tone_hz: float,
        width: int = 320,
        height: int = 180,
        fps: int = 15,
        sample_rate: int = 48_000,
        gop_seconds: float = 1.0,
    ) -> None:
        self.uid, self.color, self.tone_hz = uid, color, tone_hz
        self.width, self.height, self.fps = width, height, fps
        self.sample_rate = sample_rate
        self.audio_time_base = Fraction(1, sample_rate)
        self._audio_frame_samples = sample_rate // AUDIO_FRAMES_PER_SECOND
        self._video = _video_encoder(width, height, fps, max(1, round(gop_seconds * fps)))
        self._audio = _audio_encoder(sample_rate)
        self._frames = 0  # video frames encoded so far
        self._samples = 0  # audio samples encoded so far

    def tracks(self) -> list[TrackInfo]:
        return [
            TrackInfo(
                self.uid, "video", "h264", VIDEO_TIME_BASE, width=self.width, height=self.height
            ),
            TrackInfo(
                self.uid,
                "audio",
                "opus",
                self.audio_time_base,
                extradata=self._audio.extradata,
                sample_rate=self.sample_rate,
                channels=1,
            ),
        ]

    def packets_until(self, media_seconds: float) -> list[MediaPacket]:
        """Every packet whose frame starts before `media_seconds`, in time order."""
        packets = self._video_until(media_seconds) + self._audio_until(media_seconds)
        return sorted(packets, key=lambda p: p.seconds)

    # -- video --------------------------------------------------------------------------------

    def _video_until(self, media_seconds: float) -> list[MediaPacket]:
        packets: list[MediaPacket] = []
        while self._frames / self.fps < media_seconds:
            frame = self.draw_frame(self._frames)
            frame.pts = round(self._frames * 90_000 / self.fps)
            frame.time_base = VIDEO_TIME_BASE
            packets += [self._packet("video", p) for p in self._video.encode(frame)]
            self._frames += 1
        return packets

    def draw_frame(self, index: int) -> av.VideoFrame:
        """Frame `index`: the colour with a marker square moving right along the top band."""
        image = np.empty((self.height, self.width, 3), np.uint8)
        image[:] = self.color
        x, y = self.marker_position(index)
        image[y : y + MARKER_SIZE, x : x + MARKER_SIZE] = MARKER_COLOR
        return av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")

    def marker_position(self, index: int) -> tuple[int, int]:
        """Top-left corner of the marker in frame `index` (one marker width per 4 frames)."""
        span = self.width - MARKER_SIZE
        return (index * MARKER_SIZE // 4) % span, self.height // 8

    # -- audio --------------------------------------------------------------------------------

    def _audio_until(self, media_seconds: float) -> list[MediaPacket]:
        packets: list[MediaPacket] = []
        while self._samples / self.sample_rate < media_seconds:
            frame = self._tone_frame(self._samples)
            packets += [self._packet("audio", p) for p in self._audio.encode(frame)]
            self._samples += self._audio_frame_samples
        return packets

    def _tone_frame(self, start: int) -> av.AudioFrame:
        t = (start + np.arange(self._audio_frame_samples)) / self.sample_rate
        wave = (AMPLITUDE * 32767 * np.sin(2 * np.pi * self.tone_hz * t)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(wave[None, :], format="s16", layout="mono")
        frame.sample_rate, frame.pts = self.sample_rate, start
        frame.time_base = self.audio_time_base
        return frame

    def _packet(self, kind: Kind, packet: av.Packet[Stream]) -> MediaPacket:
        time_base = VIDEO_TIME_BASE if kind == "video" else self.audio_time_base
        pts = packet.pts if packet.pts is not None else 0
        keyframe = bool(packet.is_keyframe) or kind == "audio"
        return MediaPacket(self.uid, kind, bytes(packet), pts, time_base, keyframe)


def _video_encoder(width: int, height: int, fps: int, gop: int) -> av.VideoCodecContext:
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base, encoder.framerate = VIDEO_TIME_BASE, Fraction(fps)
    encoder.gop_size, encoder.max_b_frames = gop, 0
    params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:repeat-headers=1"
    encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "x264-params": params}
    encoder.open()
    return encoder


def _audio_encoder(sample_rate: int) -> av.AudioCodecContext:
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = sample_rate, "mono", "s16"
    encoder.time_base = Fraction(1, sample_rate)
    encoder.options = {"frame_duration": "20", "application": "audio"}
    encoder.open()
    return encoder
