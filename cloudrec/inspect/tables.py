"""One session's events as rows: slices, uploads, layouts, failovers, presence, streams.

Pure functions from events to lists of dicts (one dict a row), which `Session` turns into pandas
DataFrames. Times are UTC milliseconds (`*_ms`); fenced events (a zombie generation's writes) are
left out of every table except the timeline, which marks them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from cloudrec.events.channel import UserJoined, UserLeft
from cloudrec.events.envelope import Event
from cloudrec.events.layout import Layout, LayoutUpdated
from cloudrec.events.recording import RecorderFailed, RecorderLaunched, RecordingStarted
from cloudrec.events.segment import (
    FileSalvaged,
    Mp4Written,
    PlaylistWritten,
    SliceStarted,
    SliceWritten,
    StreamStateChanged,
)
from cloudrec.events.upload import FileBackedUp, FileUploaded, UploadFailed
from cloudrec.projections.fence import is_fenced
from cloudrec.projections.recovery import layout_from_config

Row = dict[str, Any]
LAYOUT_NAMES = {0: "float", 1: "bestFit", 2: "vertical", 3: "custom"}


def unfenced(events: Iterable[Event]) -> list[Event]:
    """The events every projection folds: a generation's writes after a newer one took over
    are dropped (`RecorderFailed` carries the new generation, so it fences at once)."""
    kept, generation = [], 0
    for event in events:
        if is_fenced(generation, event):
            continue
        if isinstance(event, RecorderLaunched | RecorderFailed):
            generation = max(generation, event.generation)
        kept.append(event)
    return kept


def slices(events: Sequence[Event]) -> list[Row]:
    """Every media slice written (or salvaged after a failover), with when storage had it.

    `lateness_ms` is how long after the end of its media a slice was in storage (what a live
    HLS viewer waits for it); None while it is not."""
    uploaded = {e.key: e.at_ms for e in events if isinstance(e, FileUploaded)}
    rows = []
    for e in unfenced(events):
        if isinstance(e, SliceWritten | FileSalvaged):
            end_ms = e.start_ms + round(e.duration_s * 1000)
            done = uploaded.get(e.key)
            rows.append({"index": e.index, "key": e.key, "generation": e.generation,
                         "start_ms": e.start_ms, "end_ms": end_ms, "duration_s": e.duration_s,
                         "size": e.size, "written_ms": e.at_ms, "uploaded_ms": done,
                         "lateness_ms": None if done is None else done - end_ms,
                         "salvaged": isinstance(e, FileSalvaged)})
    return rows


def uploads(events: Sequence[Event]) -> list[Row]:
    """Each file handed to storage: written, confirmed (or backed up), latency, failed tries."""
    written: dict[str, Event] = {}
    failed: dict[str, int] = {}
    rows = []
    for e in unfenced(events):
        if isinstance(e, SliceWritten | Mp4Written | PlaylistWritten | FileSalvaged):
            written[e.key] = e
        elif isinstance(e, UploadFailed):
            failed[e.key] = failed.get(e.key, 0) + 1
        elif isinstance(e, FileUploaded | FileBackedUp):
            source = written.get(e.key)
            rows.append({"key": e.key, "kind": e.kind, "size": e.size,
                         "outcome": "uploaded" if isinstance(e, FileUploaded) else "backed up",
                         "written_ms": source.at_ms if source else None, "done_ms": e.at_ms,
                         "latency_s": (e.at_ms - source.at_ms) / 1000 if source else None,
                         "failed_attempts": failed.get(e.key, 0)})
    return rows


def layouts(events: Sequence[Event]) -> list[Row]:
    """The layout at the start (from `start`'s transcodingConfig) and every `updateLayout`."""
    rows = []
    for e in events:
        if isinstance(e, RecordingStarted) and e.mode != "individual":
            rows.append(_layout_row(e.at_ms, layout_from_config(e.config), "start"))
        elif isinstance(e, LayoutUpdated):
            rows.append(_layout_row(e.at_ms, e.layout, "updateLayout"))
    return rows


def _layout_row(at_ms: int, layout: Layout, source: str) -> Row:
    return {"at_ms": at_ms, "source": source, "layout": layout.mixed_video_layout,
            "name": LAYOUT_NAMES.get(layout.mixed_video_layout, "?"),
            "max_resolution_uid": layout.max_resolution_uid,
            "background": layout.background_color,
            "regions": len(layout.layout_config or []), "value": layout}


def failovers(events: Sequence[Event]) -> list[Row]:
    """One row per failed generation: when it failed, when the next one took over, and the cut
    in the recording (the end of the last good slice to where the new generation resumed)."""
    rows = []
    for e in events:
        if isinstance(e, RecorderFailed):
            rows.append({"failed_generation": e.failed_generation, "generation": e.generation,
                         "reason": e.reason, "new_uid": e.new_uid, "failed_ms": e.at_ms,
                         "launched_ms": _first_ms(events, RecorderLaunched, e.generation),
                         **_cut(events, e.generation)})
    return rows


def _first_ms(events: Sequence[Event], kind: type[Event], generation: int) -> int | None:
    return next((e.at_ms for e in events if isinstance(e, kind) and e.generation == generation),
                None)


def _cut(events: Sequence[Event], generation: int) -> Row:
    resumed = [e for e in events if isinstance(e, SliceStarted) and e.generation == generation
               and e.start_ms > e.discontinue_ms]
    if not resumed:
        return {"cut_ms": None, "resumed_ms": None, "gap_s": 0.0}
    first = resumed[0]
    gap = max((e.start_ms - e.discontinue_ms) / 1000 for e in resumed)
    return {"cut_ms": first.discontinue_ms, "resumed_ms": first.start_ms, "gap_s": gap}


def gaps(events: Sequence[Event]) -> list[Row]:
    """Every stretch with no media: a slice (re)started later than the one before ended."""
    return [{"stream_uid": e.stream_uid, "track_type": e.track_type, "generation": e.generation,
             "from_ms": e.discontinue_ms, "to_ms": e.start_ms,
             "gap_s": (e.start_ms - e.discontinue_ms) / 1000}
            for e in unfenced(events)
            if isinstance(e, SliceStarted) and e.start_ms > e.discontinue_ms]


def streams(events: Sequence[Event], end_ms: int) -> list[Row]:
    """Intervals each user's audio/video was recorded (`stream_uid` "0" is the mix itself)."""
    changes = [((e.stream_uid, e.track), e.utc_ms, e.state == 0, e.generation)
               for e in unfenced(events) if isinstance(e, StreamStateChanged)]
    return _intervals(changes, end_ms, ("uid", "track"))


def presence(channel_events: Sequence[Event], end_ms: int) -> list[Row]:
    """Intervals each user was in the channel (from the channel's own stream)."""
    changes = [((str(e.uid),), e.at_ms, isinstance(e, UserJoined), 0)
               for e in channel_events if isinstance(e, UserJoined | UserLeft)]
    return _intervals(changes, end_ms, ("uid",))


def _intervals(changes: Iterable[tuple[tuple[str, ...], int, bool, int]], end_ms: int,
               names: tuple[str, ...]) -> list[Row]:
    rows: list[Row] = []
    open_at: dict[tuple[str, ...], tuple[int, int]] = {}
    for key, at_ms, on, generation in changes:
        if on and key not in open_at:
            open_at[key] = (at_ms, generation)
        elif not on and key in open_at:
            rows.append(_interval(names, key, *open_at.pop(key), at_ms))
    rows += [_interval(names, key, at, gen, end_ms) for key, (at, gen) in open_at.items()]
    return sorted(rows, key=lambda row: (row["from_ms"], *[row[n] for n in names]))


def _interval(names: tuple[str, ...], key: tuple[str, ...], from_ms: int, generation: int,
              to_ms: int) -> Row:
    return {**dict(zip(names, key, strict=True)), "from_ms": from_ms, "to_ms": to_ms,
            "generation": generation}


def generations(events: Sequence[Event]) -> list[Row]:
    """One row per recorder generation: who it joined as, on which node, from when to when
    (its failure, or its last event), and what it recorded."""
    rows = []
    for launch in (e for e in events if isinstance(e, RecorderLaunched)):
        mine = [e for e in events if e.generation == launch.generation]
        failed = next((e for e in events if isinstance(e, RecorderFailed)
                       and e.failed_generation == launch.generation), None)
        written = [e for e in mine if isinstance(e, SliceWritten | FileSalvaged)]
        rows.append({"generation": launch.generation, "uid": launch.recorder_uid,
                     "node": launch.node_id, "launched_ms": launch.at_ms,
                     "until_ms": failed.at_ms if failed else max(e.at_ms for e in mine),
                     "failed": failed is not None, "slices": len(written),
                     "media_s": sum(e.duration_s for e in written)})
    return rows
