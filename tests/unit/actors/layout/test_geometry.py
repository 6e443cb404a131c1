"""Layout geometry against the exact numbers of recording-api spec §12."""

import pytest

from cloudrec.actors.layout.geometry import (
    CustomRegion,
    PixelRect,
    Region,
    regions,
    to_pixels,
)

FLOAT, BEST_FIT, VERTICAL, CUSTOM = 0, 1, 2, 3
COUNTS = range(1, 18)


def users_of(count: int) -> list[int]:
    return [100 + i for i in range(count)]


def box(region: Region) -> tuple[float, float, float, float]:
    return (region.x, region.y, region.width, region.height)


def assert_box(region: Region, expected: tuple[float, float, float, float]) -> None:
    assert box(region) == pytest.approx(expected, abs=1e-9)


# --- float (§12.1) ---------------------------------------------------------------------------

FLOAT_X = [0.012, 0.259, 0.506, 0.753]
FLOAT_Y = [0.753, 0.506, 0.259, 0.012]


@pytest.mark.parametrize("count", COUNTS)
def test_float_first_user_fills_canvas_and_tiles_rise_from_bottom(count):
    placed = regions(FLOAT, users_of(count))
    assert [r.uid for r in placed] == users_of(count)
    assert_box(placed[0], (0, 0, 1, 1))
    for j, tile in enumerate(placed[1:]):
        assert_box(tile, (FLOAT_X[j % 4], FLOAT_Y[j // 4], 0.235, 0.235))
    assert all(r.render_mode == 0 and r.alpha == 1.0 for r in placed)


def test_float_draws_at_most_17_users():
    placed = regions(FLOAT, users_of(20))
    assert len(placed) == 17
    assert_box(placed[-1], (0.753, 0.012, 0.235, 0.235))


def test_no_users_no_regions():
    assert all(regions(layout, []) == [] for layout in (FLOAT, BEST_FIT, VERTICAL))


# --- best fit (§12.2) -----------------------------------------------------------------------


def best_fit_expected(count: int, i: int) -> tuple[float, float, float, float]:
    if count == 1:
        return (0, 0, 1, 1)
    if count == 2:
        return (0.5 * i, 0, 0.5, 1)
    if count <= 4:
        return (0.5 * (i % 2), 0.5 * (i // 2), 0.5, 0.5)
    if count <= 9:
        return ((i % 3) / 3, (i // 3) / 3, 1 / 3, 1 / 3)
    if count <= 16:
        return (0.25 * (i % 4), 0.25 * (i // 4), 0.25, 0.25)
    if i == 16:
        return (0.4, 0.8, 0.2, 0.2)
    return (0.1 + 0.2 * (i % 4), 0.2 * (i // 4), 0.2, 0.2)


@pytest.mark.parametrize("count", COUNTS)
def test_best_fit_grid(count):
    placed = regions(BEST_FIT, users_of(count))
    assert [r.uid for r in placed] == users_of(count)
    for i, region in enumerate(placed):
        assert_box(region, best_fit_expected(count, i))
        assert region.render_mode == 0


def test_best_fit_three_users_puts_third_tile_left_in_second_row():
    assert_box(regions(BEST_FIT, users_of(3))[2], (0, 0.5, 0.5, 0.5))


# --- vertical (§12.3) -----------------------------------------------------------------------

# N -> (large width, small w, small h, small column x for small k)
VERTICAL_TABLE = {
    range(1, 6): (0.8, 1 / 5, 1 / 4),
    range(6, 8): (6 / 7, 1 / 7, 1 / 6),
    range(8, 10): (8 / 9, 1 / 9, 1 / 8),
    range(10, 18): (0.8, 1 / 10, 1 / 8),
}


def vertical_row(count: int) -> tuple[float, float, float]:
    return next(row for span, row in VERTICAL_TABLE.items() if count in span)


def small_box(count: int, k: int) -> tuple[float, float, float, float]:
    large, tile_w, tile_h = vertical_row(count)
    column, row = divmod(k, 8) if count >= 10 else (0, k)
    x = 0.8 + 0.1 * column if count >= 10 else large
    return (x, row * tile_h, tile_w, tile_h)


@pytest.mark.parametrize("count", COUNTS)
def test_vertical_with_max_resolution_uid(count):
    users = users_of(count)
    large_uid = users[count // 2]
    placed = regions(VERTICAL, users, max_resolution_uid=large_uid)
    assert placed[0].uid == large_uid and placed[0].render_mode == 1
    assert_box(placed[0], (0, 0, vertical_row(count)[0], 1))
    smalls = placed[1:]
    assert [r.uid for r in smalls] == [u for u in users if u != large_uid]
    for k, region in enumerate(smalls):
        assert_box(region, small_box(count, k))
        assert region.render_mode == 0


def test_vertical_17_users_second_column():
    smalls = regions(VERTICAL, users_of(17), max_resolution_uid=100)[1:]
    assert_box(smalls[7], (0.8, 7 / 8, 0.1, 1 / 8))
    assert_box(smalls[8], (0.9, 0.0, 0.1, 1 / 8))
    assert_box(smalls[15], (0.9, 7 / 8, 0.1, 1 / 8))


@pytest.mark.parametrize("max_uid", [None, 999])
@pytest.mark.parametrize("count", [2, 3, 4])
def test_vertical_without_large_user_leaves_background_and_stacks_all(count, max_uid):
    placed = regions(VERTICAL, users_of(count), max_resolution_uid=max_uid)
    assert [r.uid for r in placed] == users_of(count)
    for k, region in enumerate(placed):
        assert_box(region, (0.8, k / 4, 0.2, 0.25))


def test_vertical_without_large_user_grows_like_the_table():
    placed = regions(VERTICAL, users_of(6))
    assert len(placed) == 6
    assert_box(placed[5], (6 / 7, 5 / 6, 1 / 7, 1 / 6))
    assert len(regions(VERTICAL, users_of(17))) == 16


def test_vertical_single_user_without_large_user_fills_canvas():
    placed = regions(VERTICAL, [7])
    assert len(placed) == 1
    assert_box(placed[0], (0, 0, 1, 1))


def test_vertical_single_user_who_is_large_is_fitted_left():
    placed = regions(VERTICAL, [7], max_resolution_uid=7)
    assert len(placed) == 1
    assert_box(placed[0], (0, 0, 0.8, 1))
    assert placed[0].render_mode == 1


# --- custom (§12.4, decision 7) -------------------------------------------------------------


def entry(uid, x, alpha=1.0, mode=0):
    return CustomRegion(uid, x, 0.0, 0.1, 0.5, alpha, mode)


def test_custom_binds_uid_entries_first_then_fills_in_join_order():
    entries = [entry(None, 0.0), entry(3, 0.1, alpha=0.5, mode=1), entry(None, 0.2)]
    placed = regions(CUSTOM, [1, 2, 3], custom=entries)
    assert [(r.uid, r.x) for r in placed] == [(1, 0.0), (3, 0.1), (2, 0.2)]
    assert (placed[1].alpha, placed[1].render_mode) == (0.5, 1)


def test_custom_users_beyond_the_list_are_not_drawn():
    placed = regions(CUSTOM, [1, 2, 3, 4], custom=[entry(None, 0.0), entry(None, 0.5)])
    assert [r.uid for r in placed] == [1, 2]


def test_custom_entries_without_present_user_are_empty():
    entries = [entry(9, 0.0), entry(None, 0.1), entry(None, 0.2)]
    placed = regions(CUSTOM, [5], custom=entries)
    assert [(r.uid, r.x) for r in placed] == [(5, 0.1)]


def test_custom_keeps_array_order_as_z_order():
    entries = [entry(2, 0.0), entry(None, 0.0), entry(1, 0.0)]
    placed = regions(CUSTOM, [1, 2, 3], custom=entries)
    assert [r.uid for r in placed] == [2, 3, 1]


def test_custom_region_copies_geometry():
    placed = regions(CUSTOM, [1], custom=[CustomRegion(1, 0.25, 0.5, 0.5, 0.25)])
    assert_box(placed[0], (0.25, 0.5, 0.5, 0.25))


def test_unknown_layout_is_rejected():
    with pytest.raises(ValueError):
        regions(4, [1])


# --- pixels on the default 360x640 canvas -----------------------------------------------------


def rect_of(region_box, width=360, height=640):
    return to_pixels(Region(1, *region_box, render_mode=0), width, height)


def test_pixels_full_canvas():
    assert rect_of((0, 0, 1, 1)) == PixelRect(0, 0, 360, 640)


def test_pixels_float_tiles():
    assert rect_of((0.012, 0.753, 0.235, 0.235)) == PixelRect(4, 482, 84, 150)
    assert rect_of((0.753, 0.012, 0.235, 0.235)) == PixelRect(272, 8, 84, 150)


def test_pixels_best_fit_thirds_abut():
    cells = [rect_of((i / 3, 0, 1 / 3, 1 / 3)) for i in range(3)]
    assert [c.x for c in cells] == [0, 120, 240]
    assert all(a.x + a.width == b.x for a, b in zip(cells, cells[1:], strict=False))
    assert cells[0].height == 214


def test_pixels_vertical_columns():
    assert rect_of((0, 0, 6 / 7, 1)) == PixelRect(0, 0, 308, 640)
    assert rect_of((6 / 7, 5 / 6, 1 / 7, 1 / 6)) == PixelRect(308, 534, 52, 106)


@pytest.mark.parametrize("layout", [FLOAT, BEST_FIT, VERTICAL])
@pytest.mark.parametrize("count", COUNTS)
def test_pixels_even_and_inside_canvas(layout, count):
    for region in regions(layout, users_of(count), max_resolution_uid=100):
        rect = to_pixels(region, 360, 640)
        assert all(v % 2 == 0 for v in (rect.x, rect.y, rect.width, rect.height))
        assert 0 <= rect.x and rect.x + rect.width <= 360
        assert 0 <= rect.y and rect.y + rect.height <= 640
        assert rect.width > 0 and rect.height > 0


def test_pixels_clamped_to_odd_canvas():
    assert rect_of((0.5, 0.5, 0.6, 0.6), 101, 51) == PixelRect(50, 26, 50, 24)
