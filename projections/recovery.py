"""What a new recorder generation needs to continue a session after a failover.

Folded from the session's stream before generation n+1 launches: the slices so far (to rewrite
the same playlist with a discontinuity at each cut), where the next slice starts, the layout,
the subscription lists as `update` left them, the files written locally but never confirmed by
storage, and whether a stop was already requested.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import singledispatch
from typing import Any

from pydantic import ValidationError

from cloudrec.events.envelope import Event
from cloudrec.events.layout import Layout, LayoutRegion, LayoutUpdated, UserBackground
from cloudrec.events.recording import (
    RecorderFailed,
    RecorderLaunched,
    RecordingStarted,
    StopRequested,
)
from cloudrec.events.segment import (
    FileDropped,
    FileSalvaged,
    Mp4Written,
    PlaylistWritten,
    SliceWritten,
    StreamStateChanged,
)
from cloudrec.events.subscription import SubscriptionUpdated
from cloudrec.events.upload import FileKind, FileUploaded
from cloudrec.projections import subscription
from cloudrec.projections.fence import is_fenced
from cloudrec.projections.subscription import SubscriptionView


@dataclass(frozen=True)
class Segment:
    key: str
    start_ms: int
    duration_s: float
    generation: int = 0
    discontinuity: bool = False  # the first slice of a generation: `#EXT-X-DISCONTINUITY` before it


@dataclass(frozen=True)
class PendingFile:
    key: str
    kind: FileKind


@dataclass(frozen=True)
class RecoveryView:
    sid: str
    playlist: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)
    generation: int = 0
    failed_generations: frozenset[int] = frozenset()
    segments: tuple[Segment, ...] = ()
    next_slice_index: int = 0
    layout: Layout = Layout()
    layout_updated: bool = False
    lists: SubscriptionView = SubscriptionView(sid="")
    pending: tuple[PendingFile, ...] = ()
    stopped: bool = False
    origin_ms: int = 0  # when `start` was accepted: the recording's clock (TS/MP4 time 0)
    next_mp4_index: int = 0
    known: frozenset[str] = frozenset()  # files some generation finished, salvaged or dropped
    receiving: frozenset[tuple[str, str]] = frozenset()  # (uid, track) of users' live streams

    @property
    def failovers(self) -> int:
        return len(self.failed_generations)

    @property
    def last_slice_end_ms(self) -> int:
        if not self.segments:
            return 0
        last = self.segments[-1]
        return last.start_ms + round(last.duration_s * 1000)


def initial(sid: str) -> RecoveryView:
    return RecoveryView(sid=sid)


def apply(view: RecoveryView, event: Event) -> RecoveryView:
    if is_fenced(view.generation, event):
        return view
    return _apply(event, view)


def fold(events: Iterable[Event], sid: str | None = None) -> RecoveryView:
    events = list(events)
    view = initial(sid if sid is not None else (events[0].stream_id if events else ""))
    for event in events:
        view = apply(view, event)
    return view


@singledispatch
def _apply(event: Event, view: RecoveryView) -> RecoveryView:
    return view  # ignore: stream states, slice starts, uploads started/failed, channel events


@_apply.register
def _(event: RecordingStarted, view: RecoveryView) -> RecoveryView:
    layout = view.layout if view.layout_updated else layout_from_config(event.config)
    return replace(view, playlist=event.playlist, config=event.config, layout=layout,
                   lists=subscription.apply(view.lists, event), origin_ms=event.at_ms)


@_apply.register
def _(event: SubscriptionUpdated, view: RecoveryView) -> RecoveryView:
    return replace(view, lists=subscription.apply(view.lists, event))


@_apply.register
def _(event: RecorderLaunched, view: RecoveryView) -> RecoveryView:
    return replace(view, generation=max(view.generation, event.generation))


@_apply.register
def _(event: RecorderFailed, view: RecoveryView) -> RecoveryView:
    """Stamped with the next generation: from here on, the failed one is fenced off."""
    return replace(view, failed_generations=view.failed_generations | {event.failed_generation},
                   generation=max(view.generation, event.generation))


@_apply.register
def _(event: StreamStateChanged, view: RecoveryView) -> RecoveryView:
    if event.stream_uid == "0":
        return view
    key = (event.stream_uid, event.track)
    receiving = view.receiving | {key} if event.state == 0 else view.receiving - {key}
    return replace(view, receiving=receiving)


@_apply.register
def _(event: LayoutUpdated, view: RecoveryView) -> RecoveryView:
    return replace(view, layout=event.layout, layout_updated=True)


@_apply.register
def _(event: SliceWritten, view: RecoveryView) -> RecoveryView:
    return _slice(view, event.key, event.index, event.start_ms, event.duration_s,
                  event.generation)


@_apply.register
def _(event: FileSalvaged, view: RecoveryView) -> RecoveryView:
    """Completed by the generation after the one that wrote it: that one's slice or part."""
    if event.kind == "mp4":
        return _mp4(view, event.key, event.index)
    return _slice(view, event.key, event.index, event.start_ms, event.duration_s,
                  event.from_generation)


@_apply.register
def _(event: FileDropped, view: RecoveryView) -> RecoveryView:
    return replace(view, known=view.known | {event.key})


def _slice(view: RecoveryView, key: str, index: int, start_ms: int, duration_s: float,
           generation: int) -> RecoveryView:
    if key in view.known:
        return view
    cut = not view.segments or view.segments[-1].generation != generation
    segment = Segment(key, start_ms, duration_s, generation, cut)
    view = replace(view, segments=(*view.segments, segment), known=view.known | {key},
                   next_slice_index=max(view.next_slice_index, index + 1))
    return _written(view, key, "slice")


def _mp4(view: RecoveryView, key: str, index: int) -> RecoveryView:
    if key in view.known:
        return view
    view = replace(view, known=view.known | {key},
                   next_mp4_index=max(view.next_mp4_index, index + 1))
    return _written(view, key, "mp4")


@_apply.register
def _(event: PlaylistWritten, view: RecoveryView) -> RecoveryView:
    return _written(view, event.key, "playlist")


@_apply.register
def _(event: Mp4Written, view: RecoveryView) -> RecoveryView:
    return _mp4(view, event.key, event.index)


@_apply.register
def _(event: FileUploaded, view: RecoveryView) -> RecoveryView:
    return replace(view, pending=tuple(p for p in view.pending if p.key != event.key))


@_apply.register
def _(event: StopRequested, view: RecoveryView) -> RecoveryView:
    return replace(view, stopped=True)


def _written(view: RecoveryView, key: str, kind: FileKind) -> RecoveryView:
    """A file (re)written locally is pending until storage confirms it; a rewrite moves it last."""
    others = tuple(p for p in view.pending if p.key != key)
    return replace(view, pending=(*others, PendingFile(key, kind)))


def layout_from_config(config: Mapping[str, Any]) -> Layout:
    """The layout fields of the start config's `recordingConfig.transcodingConfig` (or default)."""
    transcoding = config.get("recordingConfig", {}).get("transcodingConfig") or {}
    try:
        return Layout(
            mixed_video_layout=transcoding.get("mixedVideoLayout", 0),
            max_resolution_uid=_uid(transcoding.get("maxResolutionUid")),
            background_color=transcoding.get("backgroundColor", "#000000"),
            layout_config=_regions(transcoding.get("layoutConfig")),
            background_image=transcoding.get("backgroundImage"),
            default_user_background_image=transcoding.get("defaultUserBackgroundImage"),
            background_config=_user_backgrounds(transcoding.get("backgroundConfig")),
        )
    except (ValidationError, TypeError, ValueError):
        return Layout()  # the API validated the config; an unreadable one falls back to default


def _regions(entries: list[dict[str, Any]] | None) -> list[LayoutRegion] | None:
    if entries is None:
        return None
    return [LayoutRegion(**{**entry, "uid": _uid(entry.get("uid"))}) for entry in entries]


def _user_backgrounds(entries: list[dict[str, Any]] | None) -> list[UserBackground] | None:
    if entries is None:
        return None
    return [UserBackground(**{**entry, "uid": int(entry["uid"])}) for entry in entries]


def _uid(value: Any) -> int | None:
    return None if value in (None, "") else int(value)
