"""The one discriminated union of all cloudrec events, its TypeAdapter, and (de)serialisation.

Decoding goes straight from bytes through the module-level adapter. Older payload shapes are
upcast here before validation (`UPCASTERS`, keyed by (type, schema_version)).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from cloudrec.events.callback import CallbackAbandoned, CallbackDelivered, CallbackFailed
from cloudrec.events.channel import (
    TrackPublished,
    TrackUnpublished,
    UserJoined,
    UserLeft,
    upcast_track_event_v1,
)
from cloudrec.events.envelope import Event
from cloudrec.events.layout import LayoutImageFailed, LayoutUpdated, upcast_layout_updated_v1
from cloudrec.events.recording import (
    RecorderFailed,
    RecorderLaunched,
    RecorderLeft,
    RecordingFailed,
    RecordingPlanned,
    RecordingStarted,
    RecordingStopped,
    SessionExited,
    StartRepeated,
    StopRequested,
    upcast_recorder_failed_v1,
)
from cloudrec.events.segment import (
    FileDropped,
    FileSalvaged,
    MediaCorrupted,
    Mp4Written,
    PlaylistWritten,
    SliceStarted,
    SliceWritten,
    SnapshotWritten,
    StreamStateChanged,
    TrackNotRecorded,
    TrackPlaylistStarted,
)
from cloudrec.events.subscription import SubscriptionUpdated
from cloudrec.events.upload import (
    FileBackedUp,
    FileUploaded,
    UploaderStarted,
    UploadFailed,
    UploadProgressed,
    upcast_file_uploaded_v1,
)

AnyEvent = Annotated[
    RecordingStarted
    | RecordingPlanned
    | StartRepeated
    | RecorderLaunched
    | RecorderFailed
    | StopRequested
    | RecorderLeft
    | RecordingStopped
    | SessionExited
    | RecordingFailed
    | StreamStateChanged
    | SliceStarted
    | SliceWritten
    | SnapshotWritten
    | PlaylistWritten
    | Mp4Written
    | FileSalvaged
    | FileDropped
    | TrackPlaylistStarted
    | MediaCorrupted
    | TrackNotRecorded
    | UploaderStarted
    | FileUploaded
    | UploadFailed
    | FileBackedUp
    | UploadProgressed
    | LayoutUpdated
    | LayoutImageFailed
    | SubscriptionUpdated
    | UserJoined
    | UserLeft
    | TrackPublished
    | TrackUnpublished
    | CallbackDelivered
    | CallbackFailed
    | CallbackAbandoned,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyEvent)

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("FileUploaded", 1): upcast_file_uploaded_v1,
    ("RecorderFailed", 1): upcast_recorder_failed_v1,
    ("LayoutUpdated", 1): upcast_layout_updated_v1,
    ("TrackPublished", 1): upcast_track_event_v1,
    ("TrackUnpublished", 1): upcast_track_event_v1,
}


def encode(event: Event) -> bytes:
    return event.model_dump_json().encode()


def decode(data: bytes | str) -> Event:
    payload = json.loads(data)
    key = (payload.get("type", ""), payload.get("schema_version", 1))
    while key in UPCASTERS:
        payload = UPCASTERS[key](payload)
        key = (payload.get("type", ""), payload.get("schema_version", 1))
    event: Event = EVENT_ADAPTER.validate_python(payload)
    return event


def json_schema() -> dict[str, Any]:
    """JSON Schema of every event type (printed by `cloudrec events schema`)."""
    schema: dict[str, Any] = EVENT_ADAPTER.json_schema()
    return schema
