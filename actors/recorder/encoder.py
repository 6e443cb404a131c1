"""The two encoders of a mix recording: H.264 video and AAC audio (§5.1, §13.4).

Each follows PyAV's stage contract: `encode(frame)` returns zero or more packets, `encode(None)`
flushes. Frames must already carry `pts` in the encoder's `time_base`.

An encoder is the codec context of a stream in a `null`-format container: the output containers
(TS slices, MP4 files) copy it with `add_stream_from_template`, which gives them the encoder's
parameters without opening a codec of their own, and its packets are muxed into them as they are.
"""

from __future__ import annotations

from fractions import Fraction

import av
from av.audio.stream import AudioStream
from av.packet import Packet
from av.stream import Stream
from av.video.frame import PictureType
from av.video.stream import VideoStream

VIDEO_TIME_BASE = Fraction(1, 90_000)
SAMPLE_RATE = 48_000
AUDIO_TIME_BASE = Fraction(1, SAMPLE_RATE)
KEYFRAME_SECONDS = 2
# audioProfile -> (layout, bits per second), recording-api.md §5.1
AUDIO_PROFILES = {0: ("mono", 48_000), 1: ("mono", 128_000), 2: ("stereo", 192_000)}


# Up to 1280x720@30 x264 encodes on the calling thread, as the decoders (decoder.py): a recorder
# is one of many on a machine, and slice threads only added hand-offs (0.06 core for the default
# canvas instead of 0.08-0.10; camera-like 720p30 takes one thread ~0.34 core here). Larger
# canvases keep x264's slice threads (one per core): one thread encoding camera-like 1920x1080@60
# at 6500 kbit/s took 1.25 s per second of media here (slice threads: 0.98).
ONE_THREAD_PIXELS_PER_S = 1280 * 720 * 30


def encoder_threads(width: int, height: int, fps: int) -> int:
    """x264's thread count for a canvas: 1, or 0 (as many slice threads as cores)."""
    return 1 if width * height * fps <= ONE_THREAD_PIXELS_PER_S else 0


class VideoEncoder:
    def __init__(self, width: int, height: int, fps: int, bitrate_kbps: int) -> None:
        self._scratch = av.open("null", "w", format="null")
        self.stream: VideoStream = self._scratch.add_stream("libx264", rate=fps, options={
            "preset": "veryfast", "forced-idr": "1",
        })
        ctx = self.stream.codec_context
        ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
        ctx.time_base, ctx.bit_rate = VIDEO_TIME_BASE, bitrate_kbps * 1000
        ctx.gop_size = KEYFRAME_SECONDS * fps
        ctx.thread_count = encoder_threads(width, height, fps)
        self._scratch.start_encoding()

    @property
    def time_base(self) -> Fraction:
        return VIDEO_TIME_BASE

    def encode(self, frame: av.VideoFrame | None, keyframe: bool = False) -> list[Packet[Stream]]:
        """Encode `frame` (any size/format; scaled to the canvas), as a key frame if asked."""
        if frame is not None:
            frame = self._fit(frame)
            frame.pict_type = PictureType.I if keyframe else PictureType.NONE
        return self.stream.encode(frame)

    def _fit(self, frame: av.VideoFrame) -> av.VideoFrame:
        ctx = self.stream.codec_context
        if (frame.width, frame.height, frame.format.name) == (ctx.width, ctx.height, "yuv420p"):
            return frame
        fitted = frame.reformat(width=ctx.width, height=ctx.height, format="yuv420p")
        fitted.pts, fitted.time_base = frame.pts, frame.time_base
        return fitted

    def close(self) -> None:
        self._scratch.close()


class AudioEncoder:
    """48 kHz AAC; input frames of any format, layout, rate or size are resampled to fit."""

    def __init__(self, audio_profile: int) -> None:
        layout, bit_rate = AUDIO_PROFILES[audio_profile]
        self._scratch = av.open("null", "w", format="null")
        self.stream: AudioStream = self._scratch.add_stream("aac", rate=SAMPLE_RATE, layout=layout)
        self.stream.codec_context.bit_rate = bit_rate
        self._scratch.start_encoding()
        self._resampler = av.AudioResampler(
            format="fltp", layout=layout, rate=SAMPLE_RATE,
            frame_size=self.stream.codec_context.frame_size,
        )

    @property
    def time_base(self) -> Fraction:
        return AUDIO_TIME_BASE

    def encode(self, frame: av.AudioFrame | None) -> list[Packet[Stream]]:
        packets: list[Packet[Stream]] = []
        for chunk in self._resampler.resample(frame):
            packets += self.stream.encode(chunk)
        if frame is None:
            packets += self.stream.encode(None)
        return packets

    def close(self) -> None:
        self._scratch.close()
