"""The compositor paints real frames; assertions convert its output back to RGB."""

import av
import numpy as np
import pytest

from cloudrec.actors.layout import compositor as compositor_module
from cloudrec.actors.layout.compositor import Compositor, cover_crop, fit_size, yuv_of
from cloudrec.actors.layout.geometry import PixelRect, regions, to_pixels

WIDTH, HEIGHT = 360, 640
RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
BLACK, YELLOW = (0, 0, 0), (255, 255, 0)
TOLERANCE = 6


def solid(rgb, width=160, height=120):
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[:] = rgb
    return av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuv420p")


def thirds(colors, width=192, height=64):
    """A landscape frame split into three vertical bands of the given colours."""
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    for band, rgb in enumerate(colors):
        pixels[:, band * width // 3 : (band + 1) * width // 3] = rgb
    return av.VideoFrame.from_ndarray(pixels, format="rgb24")


def rgb_at(frame, x, y):
    return frame.to_ndarray(format="rgb24")[y, x].astype(int)


def assert_color(frame, x, y, rgb):
    assert np.abs(rgb_at(frame, x, y) - np.array(rgb)).max() <= TOLERANCE, (x, y)


def centre(rect):
    return rect.x + rect.width // 2, rect.y + rect.height // 2


def test_output_is_a_yuv420p_canvas():
    frame = Compositor(WIDTH, HEIGHT).compose([])
    assert (frame.width, frame.height, frame.format.name) == (WIDTH, HEIGHT, "yuv420p")


def test_background_color_and_update():
    compositor = Compositor(WIDTH, HEIGHT, "#204080")
    assert_color(compositor.compose([]), 10, 10, (0x20, 0x40, 0x80))
    compositor.set_background("#ffff00")
    assert_color(compositor.compose([]), 200, 600, YELLOW)


@pytest.mark.parametrize("color", ["#000000", "#ffffff", "#ff0000", "#2080c0"])
def test_yuv_of_matches_swscale(color):
    rgb = tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))
    planes = solid(rgb, 16, 16).to_ndarray()
    assert yuv_of(color) == (planes[0, 0], planes[16, 0], planes[20, 0])


def test_best_fit_four_users_each_region_shows_its_colour():
    colors = [RED, GREEN, BLUE, WHITE]
    rects = [to_pixels(r, WIDTH, HEIGHT) for r in regions(1, [1, 2, 3, 4])]
    placements = [(rect, 0, 1.0, solid(c)) for rect, c in zip(rects, colors, strict=True)]
    frame = Compositor(WIDTH, HEIGHT).compose(placements)
    for rect, color in zip(rects, colors, strict=True):
        assert_color(frame, *centre(rect), color)


def test_missing_frame_shows_background():
    rect = PixelRect(0, 0, 180, 320)
    frame = Compositor(WIDTH, HEIGHT, "#0000ff").compose([(rect, 0, 1.0, None)])
    assert_color(frame, 90, 160, BLUE)


def test_crop_fill_takes_the_centre_of_a_wide_source():
    rect = PixelRect(100, 100, 120, 120)
    frame = Compositor(WIDTH, HEIGHT, "#ffffff").compose(
        [(rect, 0, 1.0, thirds([RED, GREEN, BLUE]))]
    )
    for x, y in [(102, 102), (160, 160), (218, 218)]:
        assert_color(frame, x, y, GREEN)
    assert_color(frame, 98, 160, WHITE)
    assert_color(frame, 222, 160, WHITE)


def test_fit_shows_whole_source_with_black_bars():
    rect = PixelRect(0, 0, 120, 240)
    frame = Compositor(WIDTH, HEIGHT, "#ffffff").compose(
        [(rect, 1, 1.0, thirds([RED, GREEN, BLUE]))]
    )
    # 192x64 fitted into 120 wide -> 120x40 centred at y 100..140; bars above and below
    assert_color(frame, 10, 120, RED)
    assert_color(frame, 60, 120, GREEN)
    assert_color(frame, 110, 120, BLUE)
    assert_color(frame, 60, 20, BLACK)
    assert_color(frame, 60, 220, BLACK)
    assert_color(frame, 200, 120, WHITE)


def test_alpha_blends_over_what_is_below():
    full, half = PixelRect(0, 0, WIDTH, HEIGHT), PixelRect(0, 0, 180, 320)
    placements = [(full, 0, 1.0, solid(BLUE)), (half, 0, 0.5, solid(RED))]
    frame = Compositor(WIDTH, HEIGHT).compose(placements)
    assert_color(frame, 90, 160, (128, 0, 128))
    assert_color(frame, 270, 480, BLUE)


def test_later_placements_draw_on_top():
    rect = PixelRect(0, 0, 100, 100)
    placements = [(rect, 0, 1.0, solid(RED)), (rect, 0, 1.0, solid(GREEN))]
    assert_color(Compositor(WIDTH, HEIGHT).compose(placements), 50, 50, GREEN)


def count_rescales(monkeypatch, compose):
    """Calls to swscale: format conversions (`VideoFrame.reformat`) and resizes (kept
    reformatters, through `compositor._scaler`)."""
    calls = []

    def counting(original):
        def counted(*args, **kwargs):
            calls.append(1)
            return original(*args, **kwargs)
        return counted

    with monkeypatch.context() as patch:
        patch.setattr(av.VideoFrame, "reformat", counting(av.VideoFrame.reformat))
        patch.setattr(compositor_module, "_scaler", counting(compositor_module._scaler))
        frame = compose()
    return len(calls), frame


def test_unchanged_input_is_not_rescaled(monkeypatch):
    rect = PixelRect(0, 0, 100, 100)
    placements = [(rect, 0, 1.0, solid(RED))]
    compositor = Compositor(WIDTH, HEIGHT)
    compositor.compose(placements)
    calls, frame = count_rescales(monkeypatch, lambda: compositor.compose(placements))
    assert calls == 0
    assert_color(frame, 50, 50, RED)
    changed = [(rect, 0, 1.0, solid(GREEN))]
    calls, frame = count_rescales(monkeypatch, lambda: compositor.compose(changed))
    assert calls > 0
    assert_color(frame, 50, 50, GREEN)


def test_a_source_of_the_rects_size_is_pasted_without_rescaling(monkeypatch):
    source = thirds([RED, GREEN, BLUE], width=210).reformat(format="yuv420p")
    assert source.planes[0].line_size > source.width  # rows are padded: read through views
    rect = PixelRect(20, 40, 210, 64)
    compositor = Compositor(WIDTH, HEIGHT, "#ffffff")
    calls, frame = count_rescales(monkeypatch, lambda: compositor.compose([(rect, 0, 1.0, source)]))
    assert calls == 0
    for x, color in [(22, RED), (125, GREEN), (228, BLUE), (18, WHITE), (232, WHITE)]:
        assert_color(frame, x, 70, color)


def test_output_frames_are_independent_of_the_canvas():
    compositor = Compositor(WIDTH, HEIGHT, "#ff0000")
    first = compositor.compose([])
    compositor.set_background("#00ff00")
    compositor.compose([])
    assert_color(first, 5, 5, RED)


def test_odd_canvas_is_rejected():
    with pytest.raises(ValueError):
        Compositor(361, 640)


def test_crop_and_fit_sizes_are_even_and_centred():
    assert cover_crop(192, 64, 120, 120) == (64, 0, 64, 64)
    assert fit_size(192, 64, 120, 240) == (120, 40)
    assert fit_size(64, 192, 120, 120) == (40, 120)
