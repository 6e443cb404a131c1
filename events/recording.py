"""Events of a recording session's lifecycle (stream id = sid)."""

from __future__ import annotations

from typing import Any, Literal

from cloudrec.events.envelope import Event

UploadingStatus = Literal["uploaded", "backuped", "unknown"]


class RecordingStarted(Event):
    """`start` was accepted: the session exists and its playlist name is known."""

    type: Literal["RecordingStarted"] = "RecordingStarted"
    appid: str
    cname: str
    uid: str
    resource_id: str
    mode: str
    config: dict[str, Any]  # the public start config: never storage keys or secrets
    av_file_types: list[str]
    file_prefix: list[str]
    playlist: str  # object key of the m3u8


class RecordingPlanned(Event):
    """What every recorder generation of the session is asked to do: the secret-free recording
    config (`plan`), so a restarted controller can launch the next generation from the log.
    `storage` describes the customer's bucket without keys ("" = the server's file storage)."""

    type: Literal["RecordingPlanned"] = "RecordingPlanned"
    plan: dict[str, Any]
    storage: str = ""


class StartRepeated(Event):
    """`start` was called again with a resourceId already in use (code 7)."""

    type: Literal["StartRepeated"] = "StartRepeated"


class RecorderLaunched(Event):
    """A recorder generation joined the channel and owns the session from now on."""

    type: Literal["RecorderLaunched"] = "RecorderLaunched"
    recorder_uid: int
    node_id: str = ""


class RecorderFailed(Event):
    """A recorder generation died (or stopped answering); a later generation takes over.

    Written by the supervisor stamped with the NEXT generation, so the log fences the failed
    one (a zombie) off at once, before its successor has joined. `new_uid` is the uid the next
    generation joins with (0 when no generation follows: the session ends).
    """

    type: Literal["RecorderFailed"] = "RecorderFailed"
    schema_version: int = 2
    failed_generation: int
    reason: str
    new_uid: int = 0


class RecorderFailedV1(Event):
    """`RecorderFailed` as version 1 stored it (never written today)."""

    type: Literal["RecorderFailed"] = "RecorderFailed"
    schema_version: Literal[1] = 1
    failed_generation: int
    reason: str


def upcast_recorder_failed_v1(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 had no `new_uid`."""
    return dict(payload, schema_version=2, new_uid=0)


class StopRequested(Event):
    type: Literal["StopRequested"] = "StopRequested"
    reason: str = "api"  # "api", "idle", "expired", "failed" (recorder lost too often)


LEAVE_CODE_NO_USERS = 4  # idle past maxIdleTime (spec §15.4 event 41)
LEAVE_CODE_CLIENT_LEAVE = 16  # stop: leaveChannel called


class RecorderLeft(Event):
    """The recorder left the channel; `leave_code` is the spec's bitmask (4 idle, 16 stop)."""

    type: Literal["RecorderLeft"] = "RecorderLeft"
    leave_code: int


class RecordingStopped(Event):
    """Every file is finalised and handed to storage."""

    type: Literal["RecordingStopped"] = "RecordingStopped"
    uploading_status: UploadingStatus


class SessionExited(Event):
    type: Literal["SessionExited"] = "SessionExited"
    exit_status: int = 0  # 0 normal, 1 abnormal


class RecordingFailed(Event):
    """A fatal error in the session (module per spec §15.4 event 1)."""

    type: Literal["RecordingFailed"] = "RecordingFailed"
    module: int
    error_code: int
    message: str
