"""Events of moving files to storage (stream id = sid)."""

from __future__ import annotations

from typing import Literal

from cloudrec.events.envelope import Event

FileKind = Literal["slice", "playlist", "mp4"]


class UploaderStarted(Event):
    type: Literal["UploaderStarted"] = "UploaderStarted"
    storage: str  # a description without credentials, e.g. "file:///data/recordings"


class FileUploaded(Event):
    type: Literal["FileUploaded"] = "FileUploaded"
    key: str
    kind: FileKind
    size: int


class UploadFailed(Event):
    type: Literal["UploadFailed"] = "UploadFailed"
    key: str
    kind: FileKind
    attempt: int
    reason: str
