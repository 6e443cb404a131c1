"""Events of moving files to storage (stream id = sid).

`FileUploaded` v2 adds `md5` (hex digest of the bytes the recorder wrote, "" for playlists,
which are rewritten) and `restored` (pushed from the backup location after an outage); stored
v1 payloads are upcast by `upcast_file_uploaded_v1`.
"""

from __future__ import annotations

from typing import Any, Literal

from cloudrec.events.envelope import Event

FileKind = Literal["slice", "playlist", "mp4", "snapshot"]


class UploaderStarted(Event):
    type: Literal["UploaderStarted"] = "UploaderStarted"
    storage: str  # a description without credentials, e.g. "file:///data/recordings"


class FileUploaded(Event):
    """The customer's storage confirmed the object (its size checked)."""

    type: Literal["FileUploaded"] = "FileUploaded"
    schema_version: int = 2
    key: str
    kind: FileKind
    size: int
    md5: str = ""
    restored: bool = False


class UploadFailed(Event):
    """One attempt to reach the customer's storage failed; it is retried (warning 31)."""

    type: Literal["UploadFailed"] = "UploadFailed"
    key: str
    kind: FileKind
    attempt: int
    reason: str


class FileBackedUp(Event):
    """The customer's storage kept failing: the file waits in the backup location (warning 32)
    and is pushed to the customer's storage when it returns."""

    type: Literal["FileBackedUp"] = "FileBackedUp"
    key: str
    kind: FileKind
    size: int
    reason: str


class UploadProgressed(Event):
    """Files confirmed by the customer's storage / files handed to the uploader, x10000."""

    type: Literal["UploadProgressed"] = "UploadProgressed"
    progress: int


class FileUploadedV1(Event):
    """`FileUploaded` as version 1 stored it: no `md5`, no `restored` (the published schema of
    v1; never written today)."""

    type: Literal["FileUploaded"] = "FileUploaded"
    schema_version: Literal[1] = 1
    key: str
    kind: FileKind
    size: int


def upcast_file_uploaded_v1(payload: dict[str, Any]) -> dict[str, Any]:
    return dict(payload, schema_version=2, md5="", restored=False)
