"""Events of whom a recorder subscribes to (stream id = sid).

The lists of `start` are in `RecordingStarted.config`; every accepted `update` with
`streamSubscribe` appends a `SubscriptionUpdated` carrying the part it replaces (audio, video or
both), in the API's own form: uid strings or `"#allstream#"`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from cloudrec.events.envelope import Event


class UidLists(BaseModel):
    """One medium's lists: an allow-list or a deny-list (never both), or neither."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subscribe: tuple[str, ...] | None = None
    unsubscribe: tuple[str, ...] | None = None


class SubscriptionUpdated(Event):
    """`update` replaced the subscription lists of the media it carries (None = unchanged)."""

    type: Literal["SubscriptionUpdated"] = "SubscriptionUpdated"
    audio: UidLists | None = None
    video: UidLists | None = None
