"""The output side of a mix recording: composited frames in, TS slices + playlist (+ MP4) out.

`RecordingOutput` owns one H.264 and one AAC encoder; their packets go through one `Cutter` per
output kind (HLS slices, MP4 parts). Output pts are channel time minus the recording start,
converted with `timebase.convert` (media-timing.md); a key frame is forced where a slice is due, so
slices are `slice_seconds` long to the frame.
"""

from __future__ import annotations

from fractions import Fraction

import av
from av.packet import Packet
from av.stream import Stream

from .encoder import AUDIO_TIME_BASE, VIDEO_TIME_BASE, AudioEncoder, VideoEncoder
from .files import FileWritten, OnFile, OutputConfig
from .hls import SliceWriter
from .mp4 import Mp4Writer
from .segment import Cutter, PartSink
from .timebase import MILLISECONDS, convert

__all__ = ["FileWritten", "OutputConfig", "RecordingOutput"]

AUDIO_SNAP = 480  # 10 ms: audio arriving this close to where the last frame ended is contiguous


class RecordingOutput:
    def __init__(self, config: OutputConfig, on_file: OnFile) -> None:
        self.config = config
        self._video = VideoEncoder(config.width, config.height, config.fps, config.bitrate_kbps)
        self._audio = AudioEncoder(config.audio_profile)
        templates = {"video": self._video.stream, "audio": self._audio.stream}
        self._slices = SliceWriter(config, templates, on_file)
        sinks: list[PartSink] = [self._slices]
        if "mp4" in config.av_file_types:
            sinks.append(Mp4Writer(config, templates, on_file))
        self._cutters = [Cutter(sink, Fraction(1, config.fps)) for sink in sinks]
        self._slice_ticks = convert(Fraction(config.slice_seconds), Fraction(1), VIDEO_TIME_BASE)
        self._next_key: int | None = None  # video pts from which the next slice is due
        self._last_video: int | None = None
        self._audio_end: int | None = None

    def mark_track_start(self, track_type: str, ms: int) -> None:
        """A stream started at UTC `ms`: tag the next slice (§13.2)."""
        self._slices.playlist.mark_track_start(track_type, ms)

    def end_at(self, t_ms: float) -> None:
        """The recording ends at channel time `t_ms`: no slice is begun in its last second."""
        self._slices.ends_at = Fraction(t_ms - self.config.start_ms) / 1000

    def push_video(self, frame: av.VideoFrame, t_ms: float) -> None:
        """Encode a canvas frame for channel time `t_ms`; frames not after the last are dropped."""
        pts = self._pts(t_ms, VIDEO_TIME_BASE)
        if self._last_video is not None and pts <= self._last_video:
            return
        self._last_video = pts
        frame.pts, frame.time_base = pts, VIDEO_TIME_BASE
        keyframe = self._next_key is None or pts >= self._next_key
        if keyframe:
            self._next_key = pts + self._slice_ticks
        self._route(self._video.encode(frame, keyframe), "video")

    def push_audio(self, frame: av.AudioFrame, t_ms: float) -> None:
        """Encode mixed audio from channel time `t_ms`; audio overlapping the last is dropped."""
        pts = self._pts(t_ms, AUDIO_TIME_BASE)
        if self._audio_end is not None:
            if pts < self._audio_end - AUDIO_SNAP:
                return
            if pts <= self._audio_end + AUDIO_SNAP:
                pts = self._audio_end
        length = convert(frame.samples, Fraction(1, frame.sample_rate), AUDIO_TIME_BASE)
        self._audio_end = pts + length
        frame.pts, frame.time_base = pts, AUDIO_TIME_BASE
        self._route(self._audio.encode(frame), "audio")

    def close(self) -> None:
        """Flush the encoders, finish the last slice and MP4, write the playlist with ENDLIST."""
        self._route(self._video.encode(None), "video")
        self._route(self._audio.encode(None), "audio")
        for cutter in self._cutters:
            cutter.finish()
        if not self._slices.playlist.segments:
            self._slices.write_playlist(ended=True)
        self._video.close()
        self._audio.close()

    def _pts(self, t_ms: float, time_base: Fraction) -> int:
        return convert(Fraction(t_ms) - self.config.start_ms, MILLISECONDS, time_base)

    def _route(self, packets: list[Packet[Stream]], kind: str) -> None:
        for packet in packets:
            for cutter in self._cutters:
                cutter.push(packet, kind)
