"""The one discriminated union of all cloudrec events, its TypeAdapter, and (de)serialisation.

Decoding goes straight from bytes through the module-level adapter. Older payload shapes are
upcast here before validation (`UPCASTERS`, keyed by (type, schema_version)); `OLDER_SHAPES`
names, under the same keys, the model of what that version stored, which `json_schema` publishes
and `older_shape` writes (for tests and tools: cloudrec itself only writes today's shapes).
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, Field, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from cloudrec.events.callback import CallbackAbandoned, CallbackDelivered, CallbackFailed
from cloudrec.events.channel import (
    TrackPublished,
    TrackPublishedV1,
    TrackUnpublished,
    TrackUnpublishedV1,
    UserJoined,
    UserLeft,
    upcast_track_event_v1,
)
from cloudrec.events.envelope import Event
from cloudrec.events.layout import (
    LayoutImageFailed,
    LayoutUpdated,
    LayoutUpdatedV1,
    upcast_layout_updated_v1,
)
from cloudrec.events.recording import (
    RecorderFailed,
    RecorderFailedV1,
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
    FileUploadedV1,
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
# What each (type, schema_version) of UPCASTERS stored: one model per older version.
OLDER_SHAPES: dict[tuple[str, int], type[Event]] = {
    ("FileUploaded", 1): FileUploadedV1,
    ("RecorderFailed", 1): RecorderFailedV1,
    ("LayoutUpdated", 1): LayoutUpdatedV1,
    ("TrackPublished", 1): TrackPublishedV1,
    ("TrackUnpublished", 1): TrackUnpublishedV1,
}
EVENT_TYPES: tuple[type[Event], ...] = typing.get_args(typing.get_args(AnyEvent)[0])


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


def older_shape(payload: dict[str, Any], schema_version: int) -> dict[str, Any]:
    """An event's JSON `payload` (today's shape) as `schema_version` of its type stored it:
    what later versions added is dropped (validated by that version's model)."""
    model = OLDER_SHAPES[(payload["type"], schema_version)]
    older = model.model_validate(_project(model, payload) | {"schema_version": schema_version})
    shaped: dict[str, Any] = json.loads(older.model_dump_json())
    return shaped


def _project(model: type[BaseModel], payload: dict[str, Any]) -> dict[str, Any]:
    """The fields of `payload` that `model` has, into nested models too (not into lists)."""
    fields = {}
    for name, field in model.model_fields.items():
        if name in payload:
            value, inner = payload[name], field.annotation
            if isinstance(inner, type) and issubclass(inner, BaseModel) and isinstance(value, dict):
                value = _project(inner, value)
            fields[name] = value
    return fields


def json_schema() -> dict[str, Any]:
    """What `cloudrec events schema` publishes: the JSON Schema of today's events (the root, a
    `oneOf` the types), whose `$defs` also hold each older version's shape, and `versions`:
    type -> schema_version (a string) -> `{"$ref": "#/$defs/<its model>"}`, every version that
    was ever stored. Each change so far only added fields with defaults, so the root validates
    the older shapes too."""
    models: dict[tuple[str, int], type[Event]] = {
        (t.model_fields["type"].default, t.model_fields["schema_version"].default): t
        for t in EVENT_TYPES} | OLDER_SHAPES
    inputs: list[tuple[tuple[str, int], JsonSchemaMode, TypeAdapter[Any]]] = [
        (("", 0), "validation", EVENT_ADAPTER),  # the root
        *((key, "validation", TypeAdapter(model)) for key, model in sorted(models.items()))]
    schemas, defs = TypeAdapter.json_schemas(inputs)
    versions: dict[str, dict[str, Any]] = {}
    for kind, version in sorted(models):
        versions.setdefault(kind, {})[str(version)] = schemas[((kind, version), "validation")]
    schema: dict[str, Any] = {**schemas[(("", 0), "validation")], **defs, "versions": versions}
    return schema
