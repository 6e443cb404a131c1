"""Composite layout geometry (recording API spec §12): which user goes where on the canvas.

Everything here is pure: `regions` turns a layout choice and the users holding a video region
(in join order) into normalised `Region`s, and `to_pixels` maps one onto an even-aligned pixel
rectangle. The list order of regions is the z-order: later regions are drawn on top.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FLOAT, BEST_FIT, VERTICAL, CUSTOM = 0, 1, 2, 3
CROP, FIT = 0, 1
MAX_REGIONS = 17

FLOAT_TILE = 0.235
FLOAT_STEP = 0.247
FLOAT_MARGIN = 0.012


@dataclass(frozen=True)
class CustomRegion:
    """One `layoutConfig` entry of a custom layout (§12.4)."""

    uid: int | None
    x_axis: float
    y_axis: float
    width: float
    height: float
    alpha: float = 1.0
    render_mode: int = CROP


@dataclass(frozen=True)
class Region:
    """Where one user's video is drawn, in canvas-normalised coordinates (0..1)."""

    uid: int
    x: float
    y: float
    width: float
    height: float
    render_mode: int
    alpha: float = 1.0


@dataclass(frozen=True)
class PixelRect:
    """A region on the canvas in pixels; every field is even so YUV420 chroma stays aligned."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class _VerticalGrid:
    large_width: float
    tile_width: float
    tile_height: float
    per_column: int
    max_smalls: int


def regions(
    layout: int,
    users: list[int],
    max_resolution_uid: int | None = None,
    custom: list[CustomRegion] | None = None,
) -> list[Region]:
    """Regions for `users` (join order) under `layout` 0 float, 1 best-fit, 2 vertical, 3 custom."""
    if layout == FLOAT:
        return _float(users[:MAX_REGIONS])
    if layout == BEST_FIT:
        return _best_fit(users[:MAX_REGIONS])
    if layout == VERTICAL:
        return _vertical(users, max_resolution_uid)
    if layout == CUSTOM:
        return _custom(users, custom or [])
    raise ValueError(f"unknown mixedVideoLayout {layout}")


def _float(users: list[int]) -> list[Region]:
    """§12.1: first user full canvas, others 0.235 tiles in rows of 4 from the bottom up."""
    if not users:
        return []
    full = Region(users[0], 0.0, 0.0, 1.0, 1.0, CROP)
    return [full] + [_float_tile(j, uid) for j, uid in enumerate(users[1:])]


def _float_tile(j: int, uid: int) -> Region:
    col, row = j % 4, j // 4
    x = FLOAT_MARGIN + col * FLOAT_STEP
    y = 1 - (row + 1) * FLOAT_STEP
    return Region(uid, x, y, FLOAT_TILE, FLOAT_TILE, CROP)


def _best_fit(users: list[int]) -> list[Region]:
    """§12.2: uniform grid by user count; 3 users leave the third tile left in row two."""
    if len(users) == 17:
        return [_best_fit_17(i, uid) for i, uid in enumerate(users)]
    columns = _best_fit_columns(len(users))
    rows = 1 if len(users) <= 2 else columns
    return [_grid_cell(i, uid, columns, rows) for i, uid in enumerate(users)]


def _best_fit_columns(count: int) -> int:
    if count <= 1:
        return 1
    if count <= 4:
        return 2
    return 3 if count <= 9 else 4


def _grid_cell(i: int, uid: int, columns: int, rows: int) -> Region:
    width, height = 1 / columns, 1 / rows
    return Region(uid, (i % columns) * width, (i // columns) * height, width, height, CROP)


def _best_fit_17(i: int, uid: int) -> Region:
    if i == 16:
        return Region(uid, 0.4, 0.8, 0.2, 0.2, CROP)
    return Region(uid, 0.1 + 0.2 * (i % 4), 0.2 * (i // 4), 0.2, 0.2, CROP)


def _vertical(users: list[int], large_uid: int | None) -> list[Region]:
    """§12.3: M large on the left (fit), everyone else stacked in columns on the right (crop).

    Without M in the channel the large region is left to the background and every user is a
    small tile; the grid row is chosen as if the empty large region were a user (so up to four
    users get the 1-5 pattern), and a single user fills the canvas.
    """
    if large_uid in users:
        smalls = [uid for uid in users if uid != large_uid][: MAX_REGIONS - 1]
        grid = _vertical_grid(len(smalls) + 1)
        large = Region(large_uid, 0.0, 0.0, grid.large_width, 1.0, FIT)
        return [large] + _vertical_smalls(smalls, grid)
    if len(users) == 1:
        return [Region(users[0], 0.0, 0.0, 1.0, 1.0, CROP)]
    smalls = users[: MAX_REGIONS - 1]
    return _vertical_smalls(smalls, _vertical_grid(len(smalls) + 1))


def _vertical_grid(count: int) -> _VerticalGrid:
    if count <= 5:
        return _VerticalGrid(0.8, 1 / 5, 1 / 4, 4, 4)
    if count <= 7:
        return _VerticalGrid(6 / 7, 1 / 7, 1 / 6, 6, 6)
    if count <= 9:
        return _VerticalGrid(8 / 9, 1 / 9, 1 / 8, 8, 8)
    return _VerticalGrid(0.8, 1 / 10, 1 / 8, 8, 16)


def _vertical_smalls(smalls: list[int], grid: _VerticalGrid) -> list[Region]:
    return [_vertical_small(k, uid, grid) for k, uid in enumerate(smalls[: grid.max_smalls])]


def _vertical_small(k: int, uid: int, grid: _VerticalGrid) -> Region:
    column, row = divmod(k, grid.per_column)
    x = grid.large_width + column * grid.tile_width
    return Region(uid, x, row * grid.tile_height, grid.tile_width, grid.tile_height, CROP)


def _custom(users: list[int], entries: list[CustomRegion]) -> list[Region]:
    """§12.4 + decision 7: uid entries bind first, the rest fill uid-less entries in join order.

    Entries left without a present user, and users beyond the list, are not drawn; array
    order is kept, so later entries are drawn on top.
    """
    bound = {entry.uid for entry in entries if entry.uid in users}
    spare = iter(uid for uid in users if uid not in bound)
    placed: list[Region] = []
    for entry in entries[:MAX_REGIONS]:
        uid = entry.uid if entry.uid is not None else next(spare, None)
        if uid is not None and uid in users:
            placed.append(_custom_region(uid, entry))
    return placed


def _custom_region(uid: int, entry: CustomRegion) -> Region:
    return Region(
        uid, entry.x_axis, entry.y_axis, entry.width, entry.height, entry.render_mode, entry.alpha
    )


def to_pixels(region: Region, canvas_width: int, canvas_height: int) -> PixelRect:
    """Pixel rectangle of `region`: both edges rounded to the nearest even pixel, then clamped.

    Rounding the edges (not the size) keeps neighbouring tiles abutting with no gap or overlap.
    """
    left = _even_edge(region.x * canvas_width, canvas_width)
    right = _even_edge((region.x + region.width) * canvas_width, canvas_width)
    top = _even_edge(region.y * canvas_height, canvas_height)
    bottom = _even_edge((region.y + region.height) * canvas_height, canvas_height)
    return PixelRect(left, top, max(right - left, 0), max(bottom - top, 0))


def _even_edge(position: float, limit: int) -> int:
    even = 2 * math.floor(round(position, 6) / 2 + 0.5)
    return min(max(even, 0), limit - limit % 2)
