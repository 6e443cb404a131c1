"""From a validated `start` request to what a recorder generation is asked to do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudrec.actors.channel.encryption import SALTED, MediaKey
from cloudrec.actors.recorder.config import RecordingConfig, Subscription
from cloudrec.actors.recorder.config import rules as rules
from cloudrec.actors.uploader.destination import Credentials, Destination
from cloudrec.actors.uploader.endpoints import UnreachableStorage, resolve
from cloudrec.api.errors import ApiError
from cloudrec.api.layout import Layout as ApiLayout
from cloudrec.api.requests import RecordingConfig as ApiRecordingConfig
from cloudrec.api.requests import StartRequest
from cloudrec.api.storage import Storage
from cloudrec.api.subscription import AudioSubscription, VideoSubscription
from cloudrec.events.layout import Layout
from cloudrec.events.subscription import UidLists
from cloudrec.projections.recovery import layout_from_config


def layout_of(layout: ApiLayout) -> Layout:
    """The event-side layout of an updateLayout body / transcodingConfig."""
    fields = layout.model_dump(mode="json", by_alias=True, exclude_none=True)
    return layout_from_config({"recordingConfig": {"transcodingConfig": fields}})


def audio_lists(config: AudioSubscription) -> UidLists | None:
    if not config.has_audio_list:
        return None
    return UidLists(subscribe=_strings(config.subscribe_audio_uids),
                    unsubscribe=_strings(config.unsubscribe_audio_uids))


def video_lists(config: VideoSubscription) -> UidLists | None:
    if not config.has_video_list:
        return None
    return UidLists(subscribe=_strings(config.subscribe_video_uids),
                    unsubscribe=_strings(config.unsubscribe_video_uids))


def _strings(uids: list[Any] | None) -> tuple[str, ...] | None:
    return None if uids is None else tuple(str(u) for u in uids)


def subscriptions(config: Any) -> tuple[Subscription, Subscription]:
    """The rules of `start`'s recordingConfig."""
    return rules(config.stream_types, audio_lists(config), video_lists(config))


@dataclass(frozen=True)
class StoragePlan:
    """Server side: sessions upload to their `storageConfig` bucket through the S3 API (`s3`),
    or (the default, for development) to the server's own file storage. `endpoint` maps every
    vendor and region to one S3-compatible URL; `backup_url` is where files wait in an outage."""

    s3: bool = False
    endpoint: str | None = None
    backup_url: str = ""

    def destination(self, storage: Storage | None) -> Destination | None:
        """The session's bucket; ApiError 2 for one this cloudrec cannot reach."""
        if not self.s3:
            return None
        if storage is None:
            raise ApiError(2, "storageConfig is required: files go to the customer's storage")
        try:
            endpoint = resolve(storage.vendor, storage.region, self.endpoint)
        except UnreachableStorage as error:
            raise ApiError(2, str(error)) from None
        options = storage.extension_params
        keys = Credentials(storage.access_key.get_secret_value(),
                           storage.secret_key.get_secret_value())
        return Destination(endpoint.url, endpoint.region, storage.bucket, keys, storage.prefix,
                           sse=options.sse if options else None,
                           tag=options.tag if options else None, backup_url=self.backup_url)


def recording_config(sid: str, appid: str, request: StartRequest, workdir: Path,
                     slice_seconds: float = 15.0,
                     destination: Destination | None = None, mode: str = "mix") -> RecordingConfig:
    options = request.client_request
    recording = options.recording_config
    transcoding = recording.transcoding if recording else None
    storage = options.storage_config
    snapshots = options.snapshot_config  # alone (no recordingFileConfig): snapshots only
    record_files = snapshots is None or "recording_file_config" in options.model_fields_set
    audio, video = subscriptions(recording) if recording else (Subscription(), Subscription())
    extra: dict[str, Any] = {}
    if transcoding is not None:
        extra.update(width=transcoding.width, height=transcoding.height, fps=transcoding.fps,
                     bitrate_kbps=transcoding.bitrate, layout=layout_of(transcoding))
    return RecordingConfig(
        sid=sid, appid=appid, cname=request.cname, recorder_uid=int(request.uid), generation=1,
        workdir=workdir / sid, mode=mode,
        stream_types=recording.stream_types if recording else 2,
        channel_type=recording.channel_type if recording else 0,
        audio_profile=(recording.audio_profile or 0) if recording else 0,
        av_file_types=tuple(options.recording_file_config.av_file_type) if record_files else (),
        file_prefix=tuple(storage.file_name_prefix or []) if storage else (),
        audio=audio, video=video, max_idle_s=recording.max_idle_time if recording else 30,
        slice_seconds=slice_seconds, storage=destination,
        snapshot_interval_s=snapshots.capture_interval if snapshots else 0,
        video_stream_type=recording.video_stream_type if recording else 0,
        decryption_mode=recording.decryption_mode if recording else 0,
        media_key=media_key(recording), **extra)


def media_key(recording: ApiRecordingConfig | None) -> MediaKey | None:
    """The decryption key of `recordingConfig` (validated by the model), None for clear media."""
    if recording is None or recording.decryption_mode == 0 or recording.secret is None:
        return None
    salt = recording.salt.get_secret_value() if recording.salt else None
    return MediaKey.from_text(recording.decryption_mode, recording.secret.get_secret_value(),
                              salt if recording.decryption_mode in SALTED else None)
