"""Request bodies of the REST API (spec §4–§9, rules §11).

Attributes are snake_case; aliases are the exact JSON names. Models are strict and frozen.
The JSON-level field names, codes and shapes are the compatibility contract: do not rename.

Validation context: pass ``context={"mode": mode}`` so ``cname`` follows the web-mode rule
(free label ≤128 bytes) in ``web`` mode and the 89-character rule otherwise.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from cloudrec.api.identity import Cname, Uid, check_cname
from cloudrec.api.layout import DEFAULT_TRANSCODING, Layout, Transcoding
from cloudrec.api.schema import ApiModel
from cloudrec.api.storage import Storage
from cloudrec.api.subscription import AudioSubscription, StreamSubscription, VideoSubscription

SECRET_FIELDS = frozenset({"secretKey", "accessKey", "secret", "token", "salt"})
# The one documented knob, and the values cloudrec honours (it always writes the comma).
PRIVATE_PARAMS: dict[str, tuple[Any, ...]] = {"correctEXTINF": (True,)}
WEB_SCENE = 1


class ChannelRequest(ApiModel):
    """Every POST body names the channel and the recorder's own uid."""

    cname: Cname
    uid: Uid

    @field_validator("cname")
    @classmethod
    def _cname_rule(cls, cname: str, info: ValidationInfo) -> str:
        return check_cname(cname, web=(info.context or {}).get("mode") == "web")


class AcquireOptions(ApiModel):
    resource_expired_hour: int = Field(72, alias="resourceExpiredHour", ge=1, le=720)
    scene: int = Field(0, ge=0, le=2)
    region: Literal["CN", "AP", "EU", "NA"] | None = None
    start_parameter: dict[str, Any] | None = Field(None, alias="startParameter", repr=False)
    # [post-2021] placement hints: modelled so that `check_acquire` can refuse them
    exclude_resource_ids: list[str] | None = Field(None, alias="excludeResourceIds")
    region_affinity: int | None = Field(None, alias="regionAffinity")


class AcquireRequest(ChannelRequest):
    client_request: AcquireOptions = Field(alias="clientRequest")

    @field_validator("cname")
    @classmethod
    def _cname_rule(cls, cname: str, info: ValidationInfo) -> str:
        return cname  # acquire has no mode: the rule follows the scene, checked below

    @model_validator(mode="after")
    def _cname_by_scene(self) -> Self:
        check_cname(self.cname, web=self.client_request.scene == WEB_SCENE)
        return self


class RecordingConfig(AudioSubscription, VideoSubscription):
    """``recordingConfig``: subscription, mixing and audio settings (spec §5.1)."""

    channel_type: int = Field(0, alias="channelType", ge=0, le=1)
    stream_types: int = Field(2, alias="streamTypes", ge=0, le=2)
    stream_mode: Literal["default", "standard", "original"] | None = Field(
        None, alias="streamMode"
    )
    decryption_mode: int = Field(0, alias="decryptionMode", ge=0, le=8)
    secret: SecretStr | None = Field(None, repr=False)
    salt: SecretStr | None = Field(None, repr=False)
    audio_profile: int | None = Field(None, alias="audioProfile", ge=0, le=2)
    video_stream_type: int = Field(0, alias="videoStreamType", ge=0, le=1)
    max_idle_time: int = Field(30, alias="maxIdleTime", ge=5, le=2_592_000)
    transcoding_config: Transcoding | None = Field(None, alias="transcodingConfig")
    subscribe_uid_group: int | None = Field(None, alias="subscribeUidGroup", ge=0, le=5)
    private_params: str | None = Field(None, alias="privateParams", max_length=1024)

    @property
    def transcoding(self) -> Transcoding:
        """The mixed output settings, defaults (360x640, 15 fps, 500 Kbps, float) if absent."""
        return self.transcoding_config or DEFAULT_TRANSCODING

    @model_validator(mode="after")
    def _lists_match_stream_types(self) -> Self:
        if self.stream_types == 0 and self.has_video_list:
            raise ValueError("video subscription lists need streamTypes 1 or 2")
        if self.stream_types == 1 and self.has_audio_list:
            raise ValueError("audio subscription lists need streamTypes 0 or 2")
        return self

    @model_validator(mode="after")
    def _decryption_keys(self) -> Self:
        if self.decryption_mode != 0 and not (self.secret and self.secret.get_secret_value()):
            raise ValueError("secret is required when decryptionMode is not 0")
        if self.decryption_mode in (7, 8) and not _is_salt(self.salt):
            raise ValueError("salt (base64 of 32 bytes) is required for decryptionMode 7 and 8")
        return self

    @field_validator("private_params")
    @classmethod
    def _json_object_text(cls, text: str | None) -> str | None:
        if text is None:  # an explicit null is an absent field, as for every optional one
            return None
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):  # 100,000 nested brackets: not a 500
            parsed = None
        if not isinstance(parsed, dict):
            raise ValueError("privateParams must be the text of a JSON object")
        if unknown := sorted(set(parsed) - set(PRIVATE_PARAMS)):
            raise ValueError(f"privateParams: {', '.join(unknown)[:200]} not supported; "
                             f"known: {', '.join(PRIVATE_PARAMS)}")
        for key, allowed in PRIVATE_PARAMS.items():
            if key in parsed and parsed[key] not in allowed:
                raise ValueError(f"privateParams.{key} must be one of {allowed} (decision 4: "
                                 "#EXTINF is always written with its comma)")
        return text


def _is_salt(salt: SecretStr | None) -> bool:
    if salt is None:
        return False
    try:
        return len(base64.b64decode(salt.get_secret_value(), validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


class RecordingFileConfig(ApiModel):
    """``avFileType``: ``["hls"]`` or ``["hls", "mp4"]`` (either order accepted)."""

    av_file_type: list[Literal["hls", "mp4"]] = Field(default=["hls"], alias="avFileType")

    @field_validator("av_file_type")
    @classmethod
    def _hls_first(cls, kinds: list[str]) -> list[str]:
        if sorted(kinds) not in (["hls"], ["hls", "mp4"]):
            raise ValueError('avFileType must be ["hls"] or ["hls","mp4"]')
        return sorted(kinds)

    @property
    def mp4(self) -> bool:
        return "mp4" in self.av_file_type


class SnapshotConfig(ApiModel):
    """``snapshotConfig`` (individual mode only)."""

    capture_interval: int = Field(10, alias="captureInterval", ge=1, le=3600)
    file_type: list[Literal["jpg"]] = Field(alias="fileType", min_length=1, max_length=1)


class AppsCollection(ApiModel):
    """``appsCollection``: the one documented field; anything else is refused (code 2), so
    nothing unbounded is copied into the session's events."""

    model_config = ConfigDict(extra="forbid")

    combination_policy: Literal["default", "postpone_transcoding"] = Field(
        "default", alias="combinationPolicy")


class StartOptions(ApiModel):
    """``start`` → ``clientRequest``. Extension/transcode options are kept as plain JSON."""

    token: SecretStr | None = Field(None, repr=False)
    apps_collection: AppsCollection | None = Field(None, alias="appsCollection")
    recording_config: RecordingConfig | None = Field(None, alias="recordingConfig")
    recording_file_config: RecordingFileConfig = Field(
        RecordingFileConfig(), alias="recordingFileConfig"
    )
    snapshot_config: SnapshotConfig | None = Field(None, alias="snapshotConfig")
    storage_config: Storage | None = Field(None, alias="storageConfig")
    extension_service_config: dict[str, Any] | None = Field(
        None, alias="extensionServiceConfig", repr=False
    )
    transcode_options: dict[str, Any] | None = Field(None, alias="transcodeOptions")


class StartRequest(ChannelRequest):
    client_request: StartOptions = Field(alias="clientRequest")

    def public_config(self) -> dict[str, Any]:
        """The request as JSON-ready data with every secret removed, for events and logs."""
        config: dict[str, Any] = _without_secrets(
            self.model_dump(mode="json", by_alias=True, exclude_none=True))
        return config


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_secrets(v) for k, v in value.items() if k not in SECRET_FIELDS}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


class UpdateLayoutRequest(ChannelRequest):
    """``updateLayout``: the layout fields of transcodingConfig, replacing the current ones."""

    client_request: Layout = Field(alias="clientRequest")


class UpdateOptions(ApiModel):
    stream_subscribe: StreamSubscription | None = Field(None, alias="streamSubscribe")
    web_recording_config: dict[str, Any] | None = Field(None, alias="webRecordingConfig")
    rtmp_publish_config: dict[str, Any] | None = Field(None, alias="rtmpPublishConfig")


class UpdateRequest(ChannelRequest):
    client_request: UpdateOptions = Field(alias="clientRequest")


class StopOptions(ApiModel):
    async_stop: bool = False


class StopRequest(ChannelRequest):
    client_request: StopOptions = Field(StopOptions(), alias="clientRequest")
