"""The mixed-video canvas: paints decoded user frames into layout rectangles (spec §12.5).

Each `compose` call paints straight into the planes of a new yuv420p `av.VideoFrame` (numpy
views of its buffers, no copy out): it fills the background (the colour, or the canvas image
crop-filled once when it is set), then draws every placement in
order (later on top); the caller sets `pts` and `time_base`. Source pixels are read through
views of the decoded frame's planes too. A source window that already has the rect's size is
pasted as it is; anything else is resized by libswscale through `VideoFrame.reformat`. The
scaled image of each (source frame, rect, mode) is kept for one output frame so a still input
is not rescaled.
"""

from __future__ import annotations

import math
import threading

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from cloudrec.actors.layout.geometry import CROP, FIT, PixelRect

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]
Placement = tuple[PixelRect, int, float, av.VideoFrame | None]
Crop = tuple[int, int, int, int]
BLACK = (16, 128, 128)


def yuv_of(hex_color: str) -> tuple[int, int, int]:
    """`#RRGGBB` as BT.601 limited-range (Y, U, V), rounded as libswscale does for rgb24."""
    red, green, blue = (int(hex_color.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
    y = 16 + (65.481 * red + 128.553 * green + 24.966 * blue) / 255
    u = 128 + (-37.797 * red - 74.203 * green + 112.0 * blue) / 255
    v = 128 + (112.0 * red - 93.786 * green - 18.214 * blue) / 255
    return (_byte(y), _byte(u), _byte(v))


def _byte(value: float) -> int:
    return min(max(math.floor(value + 0.5), 0), 255)


def _even(value: float) -> int:
    return 2 * math.floor(value / 2 + 0.5)


def i420_planes(buffer: np.ndarray, width: int, height: int) -> Planes:
    """Y, U, V views into one contiguous I420 buffer of `width * height * 3 / 2` bytes."""
    luma, chroma = width * height, (width // 2) * (height // 2)
    y = buffer[:luma].reshape(height, width)
    u = buffer[luma : luma + chroma].reshape(height // 2, width // 2)
    v = buffer[luma + chroma : luma + 2 * chroma].reshape(height // 2, width // 2)
    return (y, u, v)


def plane_views(frame: av.VideoFrame) -> Planes:
    """Writable numpy views of a yuv420p frame's planes (no copy; each row skips line padding).

    A view holds its plane, and so the frame, alive.
    """
    y, u, v = (
        np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)[
            :, : plane.width
        ]
        for plane in frame.planes
    )
    return (y, u, v)


def frame_planes(frame: av.VideoFrame) -> Planes:
    """The frame's pixels as I420 planes, converting format or odd sizes through swscale."""
    width, height = frame.width - frame.width % 2, frame.height - frame.height % 2
    if frame.format.name != "yuv420p" or (width, height) != (frame.width, frame.height):
        frame = frame.reformat(width=width, height=height, format="yuv420p")
    return plane_views(frame)


def cover_crop(source_width: int, source_height: int, width: int, height: int) -> Crop:
    """Centred source window with the target's aspect ratio (crop-fill), even-aligned."""
    scale = max(width / source_width, height / source_height)
    crop_width = min(max(_even(width / scale), 2), source_width)
    crop_height = min(max(_even(height / scale), 2), source_height)
    left = _even((source_width - crop_width) / 2)
    top = _even((source_height - crop_height) / 2)
    return (left, top, crop_width, crop_height)


def fit_size(source_width: int, source_height: int, width: int, height: int) -> tuple[int, int]:
    """Largest even size with the source's aspect ratio that fits in the target (fit mode)."""
    scale = min(width / source_width, height / source_height)
    fitted_width = min(max(_even(source_width * scale), 2), width)
    return (fitted_width, min(max(_even(source_height * scale), 2), height))


def resize(planes: Planes, crop: Crop, width: int, height: int) -> Planes:
    """Cut `crop` out of `planes` and scale it to `width` x `height` with swscale."""
    left, top, crop_width, crop_height = crop
    y, u, v = planes
    window = (
        y[top : top + crop_height, left : left + crop_width],
        u[top // 2 : (top + crop_height) // 2, left // 2 : (left + crop_width) // 2],
        v[top // 2 : (top + crop_height) // 2, left // 2 : (left + crop_width) // 2],
    )
    if (crop_width, crop_height) == (width, height):
        return window  # already the rect's size: pasted as it is
    source = av.VideoFrame(crop_width, crop_height, "yuv420p")
    for plane, pixels in zip(plane_views(source), window, strict=True):
        plane[:] = pixels
    scaler = _scaler((crop_width, crop_height, width, height))
    return plane_views(scaler.reformat(source, width=width, height=height, format="yuv420p",
                                       threads=1))  # slice threads: hand-offs, no gain


_scalers = threading.local()


def _scaler(sizes: tuple[int, int, int, int]) -> VideoReformatter:
    """One reformatter per (source size, target size) and thread, kept: `frame.reformat` builds
    a new swscale context on every call, which cost more than the scaling itself (0.2-0.5 ms of
    a 0.03-0.09 ms resize measured on this machine, per region and output frame)."""
    kept: dict[tuple[int, int, int, int], VideoReformatter] = _scalers.__dict__.setdefault(
        "by_sizes", {})
    if sizes not in kept:
        if len(kept) >= 64:  # layouts change: forget sizes no longer drawn
            kept.clear()
        kept[sizes] = VideoReformatter()
    return kept[sizes]


def scale_into(frame: av.VideoFrame, rect: PixelRect, render_mode: int) -> Planes:
    """The frame as rect-sized planes: crop-fill (mode 0) or fit with black bars (mode 1)."""
    planes = frame_planes(frame)
    source_height, source_width = planes[0].shape
    if render_mode != FIT:
        crop = cover_crop(source_width, source_height, rect.width, rect.height)
        return resize(planes, crop, rect.width, rect.height)
    width, height = fit_size(source_width, source_height, rect.width, rect.height)
    fitted = resize(planes, (0, 0, source_width, source_height), width, height)
    return letterbox(fitted, rect.width, rect.height)


def letterbox(image: Planes, width: int, height: int) -> Planes:
    """`image` centred on a black `width` x `height` canvas."""
    buffer = np.empty(width * height * 3 // 2, dtype=np.uint8)
    boxed = i420_planes(buffer, width, height)
    for plane, value in zip(boxed, BLACK, strict=True):
        plane.fill(value)
    image_height, image_width = image[0].shape
    paste(boxed, image, _even((width - image_width) / 2), _even((height - image_height) / 2), 1.0)
    return boxed


def paste(canvas: Planes, image: Planes, x: int, y: int, alpha: float) -> None:
    """Draw `image` with its top-left at even (x, y), blended over the canvas when alpha < 1."""
    for plane, source, shift in zip(canvas, image, (0, 1, 1), strict=True):
        height, width = source.shape
        target = plane[y >> shift : (y >> shift) + height, x >> shift : (x >> shift) + width]
        target[:] = source if alpha >= 1.0 else blend(source, target, alpha)


def blend(source: np.ndarray, below: np.ndarray, alpha: float) -> np.ndarray:
    """`alpha * source + (1 - alpha) * below`, in 8-bit fixed point."""
    weight = round(alpha * 256)
    mixed = source.astype(np.uint16) * weight + below.astype(np.uint16) * (256 - weight) + 128
    return (mixed >> 8).astype(np.uint8)


class Compositor:
    """A fixed-size canvas with a background colour or image, composed once per output frame."""

    def __init__(self, width: int, height: int, background_color: str = "#000000") -> None:
        if width % 2 or height % 2 or width <= 0 or height <= 0:
            raise ValueError(f"canvas must have positive even sides, got {width}x{height}")
        self.width, self.height = width, height
        self._background = yuv_of(background_color)
        self._backdrop: tuple[av.VideoFrame, Planes] | None = None
        self._scaled: dict[tuple[int, PixelRect, int], tuple[av.VideoFrame, Planes]] = {}

    def set_background(self, color: str, image: av.VideoFrame | None = None) -> None:
        """The colour, or an image (crop-filled to the canvas, spec §12.5) in its place."""
        self._background = yuv_of(color)
        if image is None:
            self._backdrop = None
        elif self._backdrop is None or self._backdrop[0] is not image:
            canvas = PixelRect(0, 0, self.width, self.height)
            self._backdrop = (image, scale_into(image, canvas, CROP))

    def compose(self, placements: list[Placement]) -> av.VideoFrame:
        """Background, then each placement in list order; a `None` frame leaves it empty."""
        canvas = av.VideoFrame(self.width, self.height, "yuv420p")
        planes = plane_views(canvas)
        self._paint_background(planes)
        used: dict[tuple[int, PixelRect, int], tuple[av.VideoFrame, Planes]] = {}
        for rect, render_mode, alpha, frame in placements:
            if frame is not None and rect.width > 0 and rect.height > 0 and alpha > 0:
                image = self._image(frame, rect, render_mode, used)
                paste(planes, image, rect.x, rect.y, alpha)
        self._scaled = used
        return canvas

    def _paint_background(self, planes: Planes) -> None:
        if self._backdrop is not None:
            paste(planes, self._backdrop[1], 0, 0, 1.0)
            return
        for plane, value in zip(planes, self._background, strict=True):
            plane.fill(value)

    def _image(
        self,
        frame: av.VideoFrame,
        rect: PixelRect,
        render_mode: int,
        used: dict[tuple[int, PixelRect, int], tuple[av.VideoFrame, Planes]],
    ) -> Planes:
        """Scaled planes for this placement, reused from the previous compose when unchanged.

        The cache holds the source frame itself, so its `id` cannot be recycled while cached.
        """
        key = (id(frame), rect, render_mode)
        cached = self._scaled.get(key) or used.get(key)
        if cached is None or cached[0] is not frame:
            cached = (frame, scale_into(frame, rect, render_mode))
        used[key] = cached
        return cached[1]
