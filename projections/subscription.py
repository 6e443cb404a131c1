"""Whom a session subscribes to: the lists of `start`, as replaced by every `update`.

A pure fold over one session's events. `start`'s `recordingConfig` gives `streamTypes` and the
first lists; each `SubscriptionUpdated` replaces the lists of the media it carries (spec §6:
"each call replaces the earlier setting of the part it carries"). `None` for a medium means no
list was ever given for it (see `cloudrec.config.rules` for what that subscribes to).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import singledispatch
from typing import Any

from cloudrec.events.envelope import Event
from cloudrec.events.recording import RecordingStarted
from cloudrec.events.subscription import SubscriptionUpdated, UidLists


@dataclass(frozen=True)
class SubscriptionView:
    sid: str
    stream_types: int = 2
    audio: UidLists | None = None
    video: UidLists | None = None


def initial(sid: str) -> SubscriptionView:
    return SubscriptionView(sid=sid)


def apply(view: SubscriptionView, event: Event) -> SubscriptionView:
    return _apply(event, view)


def fold(events: Iterable[Event], sid: str) -> SubscriptionView:
    view = initial(sid)
    for event in events:
        view = apply(view, event)
    return view


@singledispatch
def _apply(event: Event, view: SubscriptionView) -> SubscriptionView:
    return view  # every other event leaves the lists as they are


@_apply.register
def _(event: RecordingStarted, view: SubscriptionView) -> SubscriptionView:
    recording: Mapping[str, Any] = event.config.get("recordingConfig") or {}
    return replace(view, stream_types=int(recording.get("streamTypes", 2)),
                   audio=lists_of(recording, "Audio"), video=lists_of(recording, "Video"))


@_apply.register
def _(event: SubscriptionUpdated, view: SubscriptionView) -> SubscriptionView:
    return replace(view, audio=event.audio if event.audio is not None else view.audio,
                   video=event.video if event.video is not None else view.video)


def lists_of(config: Mapping[str, Any], medium: str) -> UidLists | None:
    """`subscribe<Medium>Uids` / `unSubscribe<Medium>Uids` (or `unsubscribe…`) of an API object."""
    allow = config.get(f"subscribe{medium}Uids")
    deny = config.get(f"unSubscribe{medium}Uids", config.get(f"unsubscribe{medium}Uids"))
    if allow is None and deny is None:
        return None
    return UidLists(subscribe=None if allow is None else tuple(allow),
                    unsubscribe=None if deny is None else tuple(deny))
