"""Background images on the canvas (spec §12.5): decoded JPG/BMP pictures painted by the
compositor, read back as RGB at known points."""

from __future__ import annotations

import numpy as np

from cloudrec.actors.layout.compositor import Compositor
from cloudrec.actors.layout.geometry import CROP, FIT, PixelRect
from cloudrec.actors.recorder.images import decode_image

from ..recorder.stills import bands, solid

WIDTH, HEIGHT = 360, 640
RED, GREEN, BLUE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (0, 0, 0)
TOLERANCE = 10


def assert_rgb(frame, x: int, y: int, rgb) -> None:
    got = frame.to_ndarray(format="rgb24")[y, x].astype(int)
    assert np.abs(got - np.array(rgb)).max() <= TOLERANCE, (x, y, got)


def test_the_canvas_image_replaces_the_colour_crop_filled() -> None:
    """A wide three-band picture on a portrait canvas: its centre band covers all of it."""
    compositor = Compositor(WIDTH, HEIGHT, "#ff0000")
    compositor.set_background("#ff0000", decode_image(bands([RED, GREEN, BLUE], kind="jpg")))
    frame = compositor.compose([])
    for x, y in [(2, 2), (WIDTH - 3, HEIGHT - 3), (WIDTH // 2, HEIGHT // 2)]:
        assert_rgb(frame, x, y, GREEN)


def test_the_canvas_image_shows_wherever_no_user_is_drawn() -> None:
    compositor = Compositor(WIDTH, HEIGHT)
    compositor.set_background("#000000", decode_image(solid((200, 120, 40), kind="bmp")))
    region = PixelRect(0, 0, 180, 320)
    frame = compositor.compose([(region, CROP, 1.0, decode_image(solid(BLUE)))])
    assert_rgb(frame, 90, 160, BLUE)
    assert_rgb(frame, 270, 480, (200, 120, 40))


def test_without_an_image_the_colour_is_back() -> None:
    compositor = Compositor(WIDTH, HEIGHT)
    compositor.set_background("#000000", decode_image(solid(RED)))
    compositor.set_background("#0000ff")
    assert_rgb(compositor.compose([]), 100, 100, BLUE)


def test_a_user_image_crop_fills_or_fits_with_black_bars() -> None:
    """A wide picture in a square region: mode 0 shows the centre band edge to edge, mode 1
    the whole picture between black bars (not the background colour)."""
    picture = decode_image(bands([RED, GREEN, BLUE], width=240, height=80))
    cropped, fitted = PixelRect(0, 0, 180, 180), PixelRect(180, 0, 180, 180)
    compositor = Compositor(WIDTH, HEIGHT, "#ffffff")
    frame = compositor.compose([(cropped, CROP, 1.0, picture), (fitted, FIT, 1.0, picture)])
    assert_rgb(frame, 2, 90, GREEN)
    assert_rgb(frame, 177, 90, GREEN)
    assert_rgb(frame, 182, 90, RED)  # the whole picture: its left band at the left edge
    assert_rgb(frame, 357, 90, BLUE)
    assert_rgb(frame, 270, 10, BLACK)  # bars above and below
    assert_rgb(frame, 270, 170, BLACK)
    assert_rgb(frame, 270, 300, (255, 255, 255))  # below the region: the background
