"""Video of an output file: constant frame rate from frames placed on its timeline.

Each output tick shows the latest frame that arrived by then (rounded to the nearest tick, so a
frame is at most half a tick early or late); before the first frame the picture is black, and in
a gap the last frame before it stays on screen. Frames of any size are fitted into the output
size, keeping their aspect ratio (black bars where it differs).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from av.container import OutputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

PIXELS = "yuv420p"


class PictureTrack:
    def __init__(self, container: OutputContainer, fps: int, size: tuple[int, int]) -> None:
        self._container = container
        self._fps = fps
        self._size = size
        self.stream: VideoStream = container.add_stream("libx264", rate=fps)
        self.stream.width, self.stream.height = size
        self.stream.pix_fmt = PIXELS
        self.stream.codec_context.time_base = Fraction(1, fps)
        self.stream.codec_context.options = {"preset": "veryfast"}
        self._held = blank(size)
        self._tick = 0  # next tick to encode

    def add(self, frame: VideoFrame, at: float) -> None:
        self._show_until(math.floor(at * self._fps + 0.5))
        self._held = fit(frame, self._size)

    def finish(self, duration: float) -> None:
        self._show_until(max(round(duration * self._fps), 1))
        self._mux(self.stream.encode(None))

    def _show_until(self, tick: int) -> None:
        while self._tick < tick:
            frame = VideoFrame.from_ndarray(self._held, format=PIXELS)
            frame.pts, frame.time_base = self._tick, Fraction(1, self._fps)
            self._mux(self.stream.encode(frame))
            self._tick += 1

    def _mux(self, packets: list[Packet[Stream]]) -> None:
        for packet in packets:
            self._container.mux(packet)


def blank(size: tuple[int, int]) -> np.ndarray:
    """A black yuv420p picture as the planar array PyAV reads and writes."""
    width, height = size
    picture = np.full((height * 3 // 2, width), 128, np.uint8)
    picture[:height] = 16
    return picture


def fit(frame: VideoFrame, size: tuple[int, int]) -> np.ndarray:
    """`frame` scaled into `size` keeping its aspect ratio, as a yuv420p array."""
    width, height = size
    scale = min(width / frame.width, height / frame.height)
    inner = (_even(frame.width * scale), _even(frame.height * scale))
    if abs(inner[0] - width) <= 2 and abs(inner[1] - height) <= 2:
        return frame.reformat(width=width, height=height, format=PIXELS).to_ndarray()
    rgb = np.zeros((height, width, 3), np.uint8)
    top, left = (height - inner[1]) // 2, (width - inner[0]) // 2
    picture = frame.reformat(width=inner[0], height=inner[1], format="rgb24").to_ndarray()
    rgb[top:top + inner[1], left:left + inner[0]] = picture
    return VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=PIXELS).to_ndarray()


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)
