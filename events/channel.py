"""Events of a channel's membership and tracks (stream id = channel id, `appid/cname`)."""

from __future__ import annotations

from typing import Any, Literal

from cloudrec.events.envelope import Event


def channel_id(appid: str, cname: str) -> str:
    return f"{appid}/{cname}"


class UserJoined(Event):
    type: Literal["UserJoined"] = "UserJoined"
    uid: int


class UserLeft(Event):
    type: Literal["UserLeft"] = "UserLeft"
    uid: int


class TrackPublished(Event):
    """`layer`: which video of a dual-stream sender, 0 the high (big) stream, 1 the low one."""

    type: Literal["TrackPublished"] = "TrackPublished"
    schema_version: int = 2
    uid: int
    kind: Literal["audio", "video"]
    codec: str
    layer: int = 0


class TrackUnpublished(Event):
    type: Literal["TrackUnpublished"] = "TrackUnpublished"
    schema_version: int = 2
    uid: int
    kind: Literal["audio", "video"]
    layer: int | None = 0  # None: every layer of it


class TrackPublishedV1(Event):
    """`TrackPublished` as version 1 stored it (never written today)."""

    type: Literal["TrackPublished"] = "TrackPublished"
    schema_version: Literal[1] = 1
    uid: int
    kind: Literal["audio", "video"]
    codec: str


class TrackUnpublishedV1(Event):
    """`TrackUnpublished` as version 1 stored it (never written today)."""

    type: Literal["TrackUnpublished"] = "TrackUnpublished"
    schema_version: Literal[1] = 1
    uid: int
    kind: Literal["audio", "video"]


def upcast_track_event_v1(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 had no `layer`: senders had one video stream, the high one."""
    return dict(payload, schema_version=2, layer=0)
