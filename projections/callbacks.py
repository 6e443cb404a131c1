"""Events to webhook notifications (spec §15): the exact NCS envelope, event types and details.

The state folds the session's status view (identity, fencing, file list) and adds the callback
sequence and the playlists already reported. `noticeId` is derived from the event id and event type,
so a redelivered event produces the same notification and receivers dedupe it. `notifyMs` is set to
the event time here; the deliverer refreshes it on each attempt and signs the final body.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import singledispatch
from typing import Any

from cloudrec.events.callback import CallbackEvent
from cloudrec.events.envelope import Event
from cloudrec.events.layout import LayoutImageFailed
from cloudrec.events.recording import (
    RecorderLaunched,
    RecorderLeft,
    RecordingFailed,
    RecordingStopped,
    SessionExited,
    StartRepeated,
)
from cloudrec.events.segment import (
    MediaCorrupted,
    SliceStarted,
    StreamStateChanged,
    TrackNotRecorded,
)
from cloudrec.events.upload import (
    FileBackedUp,
    FileUploaded,
    UploaderStarted,
    UploadFailed,
    UploadProgressed,
)
from cloudrec.projections import status
from cloudrec.projections.fence import is_fenced

PRODUCT_ID = 3
SERVICE_SCENE, SNAPSHOT_SCENE = "rtc_record", "rtc_snapshot"
FATAL = 5
UPLOADER_MODULE, UPLOAD_FAILED_WARNING, BACKED_UP_WARNING = 1, 31, 32
# the spec names no recorder warning codes; ours for a burst of corrupt media from one user, and
# for a user's track whose codec the recording cannot carry
RECORDER_MODULE, CORRUPT_MEDIA_WARNING, TRACK_NOT_RECORDED_WARNING = 0, 101, 102
LAYOUT_IMAGE_WARNING = 104  # a layout image not downloaded (or not a JPG/BMP): ignored, §5.1
UNDECRYPTABLE_MEDIA_WARNING = 103  # a burst the session's decryptionMode/secret cannot open

# eventType -> (serviceType, msgName), spec §15.4
CATALOGUE: dict[int, tuple[int, str]] = {
    1: (0, "cloud_recording_error"),
    2: (0, "cloud_recording_warning"),
    3: (0, "cloud_recording_status_update"),
    4: (0, "cloud_recording_file_infos"),
    11: (0, "session_exit"),
    12: (0, "session_failover"),
    30: (2, "uploader_started"),
    31: (2, "uploaded"),
    32: (2, "backuped"),
    33: (2, "uploading_progress"),
    40: (1, "recorder_started"),
    41: (1, "recorder_leave"),
    42: (1, "recorder_slice_start"),
    43: (1, "recorder_audio_stream_state_changed"),
    44: (1, "recorder_video_stream_state_changed"),
    45: (1, "recorder_snapshot_file"),
}

Details = tuple[int, dict[str, Any]]  # (eventType, details without msgName)


@dataclass(frozen=True)
class CallbackState:
    session: status.StatusView
    sequence: int = 0  # the next notification's sequence number
    recorder_uid: str = ""  # uid of the current recorder generation
    reported_playlists: frozenset[str] = frozenset()


def initial(sid: str) -> CallbackState:
    return CallbackState(session=status.initial(sid))


def apply(state: CallbackState, event: Event) -> tuple[CallbackState, list[dict[str, Any]]]:
    if is_fenced(state.session.generation, event) or isinstance(event, CallbackEvent):
        return state, []  # ignore: zombies, and the deliverer's own record of its attempts
    details = _details(event, state)
    state = _track(event, replace(state, session=status.apply(state.session, event)))
    notices = [_notice(state, event, n, *d) for n, d in enumerate(details)]
    return replace(state, sequence=state.sequence + len(notices)), notices


def notifications(events: Iterable[Event], sid: str) -> list[dict[str, Any]]:
    """Every notification a session's events give, in order (a fold, for reports)."""
    state, sent = initial(sid), []
    for event in events:
        state, out = apply(state, event)
        sent.extend(out)
    return sent


def _track(event: Event, state: CallbackState) -> CallbackState:
    if isinstance(event, RecorderLaunched):
        return replace(state, recorder_uid=str(event.recorder_uid))
    if isinstance(event, FileUploaded) and event.kind == "playlist":
        return replace(state, reported_playlists=state.reported_playlists | {event.key})
    return state


def _notice(
    state: CallbackState, event: Event, offset: int, event_type: int, details: dict[str, Any]
) -> dict[str, Any]:
    service_type, msg_name = CATALOGUE[event_type]
    session = state.session
    return {
        "noticeId": notice_id(event, event_type),
        "productId": PRODUCT_ID,
        "eventType": event_type,
        "notifyMs": event.at_ms,
        "sid": session.sid,
        "payload": {
            "cname": session.cname,
            "uid": state.recorder_uid or session.uid,
            "sid": session.sid,
            "sequence": state.sequence + offset,
            "sendts": event.at_ms,
            "serviceType": service_type,
            "serviceScene": SNAPSHOT_SCENE if status.snapshot_only(session) else SERVICE_SCENE,
            "details": {"msgName": msg_name, **details},
        },
    }


def notice_id(event: Event, event_type: int) -> str:
    """Deterministic per (event, eventType): a redelivery carries the same id."""
    return hashlib.sha256(f"{event.event_id}:{event_type}".encode()).hexdigest()[:32]


def sign(body: bytes, secret: str) -> dict[str, str]:
    """The signature headers of a webhook body (§15.2)."""
    key = secret.encode()
    return {
        "Agora-Signature": hmac.new(key, body, hashlib.sha1).hexdigest(),
        "Agora-Signature-V2": hmac.new(key, body, hashlib.sha256).hexdigest(),
    }


@singledispatch
def _details(event: Event, state: CallbackState) -> list[Details]:
    return []  # ignore: slices, playlists, MP4s, layout, channel and stop requests notify nothing


@_details.register
def _(event: RecorderLaunched, state: CallbackState) -> list[Details]:
    started: Details = (40, {"status": 0})
    if event.generation > 1:
        return [(12, {"newUid": event.recorder_uid}), started]
    return [started]


@_details.register
def _(event: UploaderStarted, state: CallbackState) -> list[Details]:
    return [(30, {"status": 0})]


@_details.register
def _(event: StreamStateChanged, state: CallbackState) -> list[Details]:
    event_type = 43 if event.track == "audio" else 44
    return [
        (event_type, {"streamUid": event.stream_uid, "state": event.state, "UtcMs": event.utc_ms})
    ]


@_details.register
def _(event: SliceStarted, state: CallbackState) -> list[Details]:
    return [
        (
            42,
            {
                "startUtcMs": event.start_ms,
                "discontinueUtcMs": event.discontinue_ms,
                "mixedAllUser": event.stream_uid == "0",  # "0": the mix (§15.4)
                "streamUid": event.stream_uid,
                "trackType": event.track_type,
            },
        )
    ]


@_details.register
def _(event: FileUploaded, state: CallbackState) -> list[Details]:
    if event.kind == "snapshot":  # one per snapshot uploaded (§15.4)
        return [(45, {"fileName": event.key})]
    if event.kind != "playlist" or event.key in state.reported_playlists:
        return []
    return [(4, {"fileList": event.key})]


@_details.register
def _(event: RecorderLeft, state: CallbackState) -> list[Details]:
    return [(41, {"leaveCode": event.leave_code})]


@_details.register
def _(event: RecordingStopped, state: CallbackState) -> list[Details]:
    if event.uploading_status == "unknown":
        return []  # neither uploaded (31) nor backuped (32) yet: nothing to report
    event_type = 31 if event.uploading_status == "uploaded" else 32
    stopped = status.apply(state.session, event)
    return [(event_type, {"status": 0, "fileList": status.file_list(stopped)})]


@_details.register
def _(event: SessionExited, state: CallbackState) -> list[Details]:
    return [(11, {"exitStatus": event.exit_status})]


@_details.register
def _(event: StartRepeated, state: CallbackState) -> list[Details]:
    session = state.session
    mode = 1 if session.mode == "individual" else 0
    return [(3, {"status": session.status, "recordingMode": mode, "fileList": session.playlist})]


@_details.register
def _(event: RecordingFailed, state: CallbackState) -> list[Details]:
    return [
        (
            1,
            {
                "module": event.module,
                "errorLevel": FATAL,
                "errorCode": event.error_code,
                "stat": 0,
                "errorMsg": event.message,
            },
        )
    ]


@_details.register
def _(event: UploadFailed, state: CallbackState) -> list[Details]:
    return [(2, {"module": UPLOADER_MODULE, "warnCode": UPLOAD_FAILED_WARNING})]


@_details.register
def _(event: FileBackedUp, state: CallbackState) -> list[Details]:
    return [(2, {"module": UPLOADER_MODULE, "warnCode": BACKED_UP_WARNING})]


@_details.register
def _(event: UploadProgressed, state: CallbackState) -> list[Details]:
    return [(33, {"progress": event.progress})]


@_details.register
def _(event: MediaCorrupted, state: CallbackState) -> list[Details]:
    """One warning per burst, naming the user (details may gain fields, §15.3); its own code
    when the packets could not be decrypted (a wrong key or decryptionMode)."""
    code = UNDECRYPTABLE_MEDIA_WARNING if "undecryptable" in event.problems \
        else CORRUPT_MEDIA_WARNING
    return [(2, {"module": RECORDER_MODULE, "warnCode": code,
                 "streamUid": str(event.uid), "trackType": event.track,
                 "packets": event.packets, "startUtcMs": event.first_ms,
                 "endUtcMs": event.last_ms, "problems": list(event.problems)})]


@_details.register
def _(event: TrackNotRecorded, state: CallbackState) -> list[Details]:
    """One warning per track left out, naming the user and the codec."""
    return [(2, {"module": RECORDER_MODULE, "warnCode": TRACK_NOT_RECORDED_WARNING,
                 "streamUid": str(event.uid), "trackType": event.track, "codec": event.codec})]


@_details.register
def _(event: LayoutImageFailed, state: CallbackState) -> list[Details]:
    """One warning per image that could not be used, naming its URL and why."""
    return [(2, {"module": RECORDER_MODULE, "warnCode": LAYOUT_IMAGE_WARNING,
                 "imageUrl": event.url, "reason": event.reason})]
