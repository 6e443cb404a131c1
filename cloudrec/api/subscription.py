"""Which users' audio and video a recorder subscribes to (spec §5.1 lists, §6 streamSubscribe).

Per medium a list is either an allow-list or a deny-list, never both; each holds 1..32 uids
(or ``"#allstream#"``). Deny-lists are accepted under both documented spellings,
``unSubscribe…`` and ``unsubscribe…``, and are always written back as ``unSubscribe…``.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import AliasChoices, Field, model_validator

from cloudrec.api.identity import SubscribedUid
from cloudrec.api.schema import ApiModel

MAX_LISTED_UIDS = 32

UidList = Annotated[list[SubscribedUid], Field(min_length=1, max_length=MAX_LISTED_UIDS)]


def _deny_list(medium: str) -> object:
    return Field(
        None,
        validation_alias=AliasChoices(f"unSubscribe{medium}Uids", f"unsubscribe{medium}Uids"),
        serialization_alias=f"unSubscribe{medium}Uids",
    )


class AudioSubscription(ApiModel):
    subscribe_audio_uids: UidList | None = Field(None, alias="subscribeAudioUids")
    unsubscribe_audio_uids: UidList | None = _deny_list("Audio")  # type: ignore[assignment]

    @model_validator(mode="after")
    def _audio_allow_xor_deny(self) -> Self:
        if self.subscribe_audio_uids is not None and self.unsubscribe_audio_uids is not None:
            raise ValueError("subscribeAudioUids and unSubscribeAudioUids are exclusive")
        return self

    @property
    def has_audio_list(self) -> bool:
        return self.subscribe_audio_uids is not None or self.unsubscribe_audio_uids is not None


class VideoSubscription(ApiModel):
    subscribe_video_uids: UidList | None = Field(None, alias="subscribeVideoUids")
    unsubscribe_video_uids: UidList | None = _deny_list("Video")  # type: ignore[assignment]

    @model_validator(mode="after")
    def _video_allow_xor_deny(self) -> Self:
        if self.subscribe_video_uids is not None and self.unsubscribe_video_uids is not None:
            raise ValueError("subscribeVideoUids and unSubscribeVideoUids are exclusive")
        return self

    @property
    def has_video_list(self) -> bool:
        return self.subscribe_video_uids is not None or self.unsubscribe_video_uids is not None


class StreamSubscription(ApiModel):
    """``update`` → ``streamSubscribe``: replaces the lists of the part it carries."""

    audio_uid_list: AudioSubscription | None = Field(None, alias="audioUidList")
    video_uid_list: VideoSubscription | None = Field(None, alias="videoUidList")
