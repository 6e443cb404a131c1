"""The recorded files read back: composite frames at given moments, each user's audio level.

Files are found under a `storage` folder by their object keys (a `file://` storage keeps each
object at `<folder>/<key>`), and placed on the UTC timeline the way `cloudrec.tools` does (each
slice anchored on the time in its name). Which user is where in a composite frame comes from
the layout geometry the recorder used: `regions_at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from cloudrec.actors.layout.geometry import CustomRegion, PixelRect, regions, to_pixels
from cloudrec.events.layout import Layout
from cloudrec.inspect import tables
from cloudrec.inspect.session import Session
from cloudrec.tools import slices as slice_media
from cloudrec.tools.tracks import Slice, read_slices

SILENCE_DB = -90.0


@dataclass(frozen=True)
class Still:
    """A composite frame at `at_ms` (None in a gap), and who was where on it."""

    at_ms: int
    image: np.ndarray | None  # rgb24, height x width x 3
    layout: str
    regions: tuple[tuple[int, PixelRect], ...]


def contact_times(session: Session, every_s: float = 1.0) -> list[int]:
    """Every `every_s` seconds from the start, plus just after each layout change (UTC ms)."""
    start, end = session.started_ms, session.ended_ms
    ticks = set(range(start, end, max(1, round(every_s * 1000))))
    ticks |= {row["at_ms"] + 200 for row in tables.layouts(session.events)
              if start < row["at_ms"] < end}  # once the new layout is on screen
    return sorted(ticks)


def stills(session: Session, storage: Path | str, times_ms: list[int]) -> list[Still]:
    """The composite picture at each moment, from the session's playlist in `storage`."""
    pieces = read_slices(Path(storage) / session.query().playlist)
    cache: Decoded = {}
    return [_still(session, pieces, cache, at_ms) for at_ms in times_ms]


Decoded = dict[Path, list[tuple[float, VideoFrame]]]


def _still(session: Session, pieces: list[Slice], cache: Decoded, at_ms: int) -> Still:
    layout = layout_at(session, at_ms)
    name = tables.LAYOUT_NAMES.get(layout.mixed_video_layout, "?")
    piece = next((p for p in pieces if p.start <= at_ms / 1000 < p.end), None)
    if piece is None:
        return Still(at_ms, None, name, ())
    if piece.path not in cache:
        cache[piece.path] = [(t, f) for t, f in slice_media.frames(piece, "video")
                             if isinstance(f, VideoFrame)]
    shown = [f for t, f in cache[piece.path] if t <= at_ms / 1000] or [cache[piece.path][0][1]]
    image = shown[-1].to_ndarray(format="rgb24")
    height, width = image.shape[:2]
    return Still(at_ms, image, name, tuple(regions_at(session, at_ms, width, height)))


def layout_at(session: Session, at_ms: int) -> Layout:
    rows = [row for row in tables.layouts(session.events) if row["at_ms"] <= at_ms]
    return rows[-1]["value"] if rows else Layout()


def regions_at(session: Session, at_ms: int, width: int,
               height: int) -> list[tuple[int, PixelRect]]:
    """Each recorded user's rectangle at `at_ms`: the layout then, over the users whose video
    was recorded then, in the order they joined the channel."""
    layout = layout_at(session, at_ms)
    recording = {int(row["uid"]) for row in tables.streams(session.events, session.ended_ms)
                 if row["track"] == "video" and row["uid"] != "0"
                 and row["from_ms"] <= at_ms < row["to_ms"]}
    joined = [int(row["uid"]) for row in tables.presence(session.channel_events, session.ended_ms)]
    users = list(dict.fromkeys(uid for uid in joined if uid in recording))
    custom = [CustomRegion(**r.model_dump()) for r in layout.layout_config or []]
    placed = regions(layout.mixed_video_layout, users, layout.max_resolution_uid, custom or None)
    return [(r.uid, to_pixels(r, width, height)) for r in placed]


def audio_levels(session: Session, storage: Path | str) -> pd.DataFrame:
    """Individual mode: each user's audio level (dBFS, RMS per decoded frame) over time."""
    rows = []
    for track in session.query().track_files:
        if track.track != "audio":
            continue
        for piece in read_slices(Path(storage) / track.key):
            for t, decoded in slice_media.frames(piece, "audio"):
                if isinstance(decoded, AudioFrame):
                    rows.append({"uid": track.uid, "at_ms": round(t * 1000),
                                 "dbfs": _dbfs(decoded)})
    levels = pd.DataFrame(rows, columns=["uid", "at_ms", "dbfs"])
    levels["t_s"] = (levels["at_ms"] - session.started_ms) / 1000
    return levels


def _dbfs(frame: AudioFrame) -> float:
    samples = frame.to_ndarray().astype(np.float64)
    rms = float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
    return max(SILENCE_DB, 20 * float(np.log10(rms))) if rms > 0 else SILENCE_DB
