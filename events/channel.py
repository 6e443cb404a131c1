"""Events of a channel's membership and tracks (stream id = channel id, `appid/cname`)."""

from __future__ import annotations

from typing import Literal

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
    type: Literal["TrackPublished"] = "TrackPublished"
    uid: int
    kind: Literal["audio", "video"]
    codec: str


class TrackUnpublished(Event):
    type: Literal["TrackUnpublished"] = "TrackUnpublished"
    uid: int
    kind: Literal["audio", "video"]
