"""The `query` answer (spec §8) and the `stop` answer (§9): a pure fold over one session's events.

Status numbers only move forward (a failover's `RecorderLaunched` does not take a recording in
progress back to 4); `RecordingFailed` (20) is the highest and sticks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import singledispatch
from typing import Any

from cloudrec.events.envelope import Event
from cloudrec.events.recording import (
    RecorderLaunched,
    RecordingFailed,
    RecordingStarted,
    RecordingStopped,
    SessionExited,
    StopRequested,
)
from cloudrec.events.segment import (
    Mp4Written,
    SliceStarted,
    SnapshotWritten,
    StreamStateChanged,
    TrackPlaylistStarted,
)
from cloudrec.events.upload import FileUploaded, UploaderStarted
from cloudrec.projections.fence import is_fenced

STARTED, UPLOADER_READY, RECORDER_READY, IN_PROGRESS = 1, 3, 4, 5
STOP_REQUESTED, STOPPED, EXITED, FAILED = 6, 7, 8, 20


@dataclass(frozen=True)
class Mp4File:
    key: str
    start_ms: int


@dataclass(frozen=True)
class TrackFile:
    """Individual mode: the playlist of one user's audio or video."""

    key: str
    uid: str
    track: str  # "audio" or "video"
    start_ms: int


@dataclass(frozen=True)
class StatusView:
    sid: str
    appid: str = ""
    cname: str = ""
    uid: str = ""
    resource_id: str = ""
    mode: str = ""
    status: int = 0
    playlist: str = ""
    av_file_types: tuple[str, ...] = ("hls",)
    slice_start_time: int = 0
    mp4_files: tuple[Mp4File, ...] = ()
    track_files: tuple[TrackFile, ...] = ()
    uploaded: tuple[str, ...] = ()
    uploading_status: str = "unknown"
    stopped: bool = False
    ended: bool = False
    heard_users: bool = False  # a user's stream was received: something was recorded (435)
    generation: int = 0


def initial(sid: str) -> StatusView:
    return StatusView(sid=sid)


def apply(view: StatusView, event: Event) -> StatusView:
    if is_fenced(view.generation, event):
        return view
    return _apply(event, view)


def fold(events: Iterable[Event], sid: str | None = None) -> StatusView:
    events = list(events)
    view = initial(sid if sid is not None else (events[0].stream_id if events else ""))
    for event in events:
        view = apply(view, event)
    return view


def _advance(view: StatusView, status: int, **changes: Any) -> StatusView:
    return replace(view, status=max(view.status, status), **changes)


@singledispatch
def _apply(event: Event, view: StatusView) -> StatusView:
    return view  # ignore: every other event leaves the query answer unchanged


@_apply.register
def _(event: RecordingStarted, view: StatusView) -> StatusView:
    return _advance(
        view,
        STARTED,
        appid=event.appid,
        cname=event.cname,
        uid=event.uid,
        resource_id=event.resource_id,
        mode=event.mode,
        playlist=event.playlist,
        av_file_types=tuple(event.av_file_types),
    )


@_apply.register
def _(event: UploaderStarted, view: StatusView) -> StatusView:
    return _advance(view, UPLOADER_READY)


@_apply.register
def _(event: RecorderLaunched, view: StatusView) -> StatusView:
    return _advance(view, RECORDER_READY, generation=max(view.generation, event.generation))


@_apply.register
def _(event: SliceStarted, view: StatusView) -> StatusView:
    if view.slice_start_time:
        return view
    return replace(view, slice_start_time=event.start_ms)


@_apply.register
def _(event: SnapshotWritten, view: StatusView) -> StatusView:
    """Snapshots only: `sliceStartTime` is the first snapshot's time."""
    if view.slice_start_time or not snapshot_only(view):
        return view
    return replace(view, slice_start_time=event.start_ms)


@_apply.register
def _(event: StreamStateChanged, view: StatusView) -> StatusView:
    if view.heard_users or event.stream_uid == "0" or event.state != 0:
        return view
    return replace(view, heard_users=True)


@_apply.register
def _(event: Mp4Written, view: StatusView) -> StatusView:
    if any(f.key == event.key for f in view.mp4_files):
        return view
    return replace(view, mp4_files=(*view.mp4_files, Mp4File(event.key, event.start_ms)))


@_apply.register
def _(event: TrackPlaylistStarted, view: StatusView) -> StatusView:
    if any(f.key == event.key for f in view.track_files):
        return view
    track = TrackFile(event.key, event.stream_uid, event.track, event.start_ms)
    return replace(view, track_files=(*view.track_files, track))


@_apply.register
def _(event: FileUploaded, view: StatusView) -> StatusView:
    uploaded = view.uploaded if event.key in view.uploaded else (*view.uploaded, event.key)
    return _advance(view, IN_PROGRESS, uploaded=uploaded)


@_apply.register
def _(event: StopRequested, view: StatusView) -> StatusView:
    return _advance(view, STOP_REQUESTED, stopped=True)


@_apply.register
def _(event: RecordingStopped, view: StatusView) -> StatusView:
    return _advance(view, STOPPED, stopped=True, uploading_status=event.uploading_status)


@_apply.register
def _(event: SessionExited, view: StatusView) -> StatusView:
    return _advance(view, EXITED, ended=True)


@_apply.register
def _(event: RecordingFailed, view: StatusView) -> StatusView:
    return _advance(view, FAILED)


def snapshot_only(view: StatusView) -> bool:
    """An individual session started with snapshotConfig and no recordingFileConfig (§5.3)."""
    return view.mode == "individual" and not view.av_file_types


def is_json_mode(view: StatusView) -> bool:
    """Individual mode and `["hls","mp4"]` list files as JSON; `["hls"]` names the playlist (§8)."""
    return view.mode == "individual" or "mp4" in view.av_file_types


def file_list(view: StatusView) -> list[dict[str, Any]]:
    """The json-mode entries: the playlist first, then each MP4 in the order written; in
    individual mode one per user's audio or video playlist, in the order they started."""
    if view.mode == "individual":
        return [_track_entry(f) for f in view.track_files]
    entries = [_entry(view.playlist, view.slice_start_time)] if view.playlist else []
    return entries + [_entry(f.key, f.start_ms) for f in view.mp4_files]


def _entry(key: str, start_ms: int) -> dict[str, Any]:
    return {
        "fileName": key,
        "trackType": "audio_and_video",
        "uid": "0",
        "mixedAllUser": True,
        "isPlayable": True,
        "sliceStartTime": start_ms,
    }


def _track_entry(file: TrackFile) -> dict[str, Any]:
    """A video-only playlist is not playable on its own (§8); an audio one is."""
    return {
        "fileName": file.key,
        "trackType": file.track,
        "uid": file.uid,
        "mixedAllUser": False,
        "isPlayable": file.track == "audio",
        "sliceStartTime": file.start_ms,
    }


def server_response(view: StatusView) -> dict[str, Any]:
    """`serverResponse` of `query` (§8); snapshots only: `status` and `sliceStartTime`."""
    if snapshot_only(view):
        return {"status": view.status, "sliceStartTime": view.slice_start_time}
    if is_json_mode(view):
        listing: Any = file_list(view)
        mode = "json"
    else:
        listing, mode = view.playlist, "string"
    return {
        "status": view.status,
        "fileListMode": mode,
        "fileList": listing,
        "sliceStartTime": view.slice_start_time,
    }


def stop_response(view: StatusView) -> dict[str, Any]:
    """`serverResponse` of `stop` (§9): always json mode; snapshots only: `uploadingStatus`."""
    if snapshot_only(view):
        return {"uploadingStatus": view.uploading_status}
    return {
        "fileListMode": "json",
        "fileList": file_list(view),
        "uploadingStatus": view.uploading_status,
    }
