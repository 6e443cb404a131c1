"""The event catalog: one tagged union, JSON in and out, upcasting of older shapes."""

from __future__ import annotations

import json
import time
import typing
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from cloudrec.events import catalog
from cloudrec.events.channel import TrackPublished, TrackUnpublished
from cloudrec.events.envelope import cloud_event_headers, rfc3339
from cloudrec.events.layout import LayoutUpdated
from cloudrec.events.recording import RecorderFailed
from cloudrec.events.segment import SliceWritten
from cloudrec.events.upload import FileUploaded

ALL_TYPES = typing.get_args(typing.get_args(catalog.AnyEvent)[0])

# A stored payload of SliceWritten as a (hypothetical) version 0 wrote it: `seconds` instead of
# `duration_s`, no `size`. Kept as text, exactly as it would sit in a log.
SLICE_WRITTEN_V0 = (
    '{"type":"SliceWritten","schema_version":0,"stream_id":"sid","at_ms":5,"version":3,'
    '"generation":1,"event_id":"e1","key":"a.ts","index":0,"start_ms":1,"seconds":15.0}'
)


def test_every_event_type_is_in_the_schema() -> None:
    names = set(catalog.json_schema()["$defs"])
    assert {t.__name__ for t in ALL_TYPES} <= names
    assert len(ALL_TYPES) >= 20


def test_bytes_round_trip_through_the_one_adapter() -> None:
    event = SliceWritten(stream_id="sid", at_ms=5, key="a.ts", index=0, start_ms=1,
                         duration_s=15.0, size=9)
    assert catalog.decode(catalog.encode(event)) == event


def test_events_are_frozen_and_strict() -> None:
    event = SliceWritten(stream_id="sid", at_ms=5, key="a.ts", index=0, start_ms=1,
                         duration_s=15.0, size=9)
    with pytest.raises(ValidationError):
        event.size = 10  # type: ignore[misc]
    with pytest.raises(ValidationError):
        catalog.decode(json.dumps({**json.loads(catalog.encode(event)), "surprise": 1}))


def test_an_old_shape_is_upcast_before_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    def v0_to_v1(payload: dict[str, typing.Any]) -> dict[str, typing.Any]:
        payload = dict(payload, schema_version=1, duration_s=payload.pop("seconds"), size=0)
        return payload

    monkeypatch.setitem(catalog.UPCASTERS, ("SliceWritten", 0), v0_to_v1)
    event = catalog.decode(SLICE_WRITTEN_V0)
    assert isinstance(event, SliceWritten)
    assert (event.duration_s, event.size, event.version) == (15.0, 0, 3)


# FileUploaded as version 1 stored it (before `md5` and `restored`).
FILE_UPLOADED_V1 = (
    '{"type":"FileUploaded","schema_version":1,"stream_id":"sid","at_ms":5,"version":7,'
    '"generation":1,"event_id":"e2","key":"p/a.ts","kind":"slice","size":42}'
)


def test_a_stored_file_uploaded_v1_is_upcast_to_v2() -> None:
    event = catalog.decode(FILE_UPLOADED_V1)
    assert isinstance(event, FileUploaded)
    assert (event.schema_version, event.md5, event.restored, event.size) == (2, "", False, 42)


# RecorderFailed as version 1 stored it (before `new_uid`).
RECORDER_FAILED_V1 = (
    '{"type":"RecorderFailed","schema_version":1,"stream_id":"sid","at_ms":5,"version":9,'
    '"generation":0,"event_id":"e3","failed_generation":1,"reason":"actor died"}'
)


def test_a_stored_recorder_failed_v1_is_upcast_to_v2() -> None:
    event = catalog.decode(RECORDER_FAILED_V1)
    assert isinstance(event, RecorderFailed)
    assert (event.schema_version, event.new_uid, event.failed_generation) == (2, 0, 1)


# TrackPublished and TrackUnpublished as version 1 stored them (before video layers).
TRACK_EVENTS_V1 = [
    '{"type":"TrackPublished","schema_version":1,"stream_id":"a/c","at_ms":5,"version":2,'
    '"generation":0,"event_id":"e4","uid":7,"kind":"video","codec":"h264"}',
    '{"type":"TrackUnpublished","schema_version":1,"stream_id":"a/c","at_ms":6,"version":3,'
    '"generation":0,"event_id":"e5","uid":7,"kind":"video"}',
]


@pytest.mark.parametrize("stored", TRACK_EVENTS_V1)
def test_a_stored_track_event_v1_is_upcast_to_the_high_layer(stored: str) -> None:
    event = catalog.decode(stored)
    assert isinstance(event, TrackPublished | TrackUnpublished)
    assert (event.schema_version, event.uid, event.layer) == (2, 7, 0)


def test_cloud_event_headers() -> None:
    event = SliceWritten(stream_id="sid", at_ms=1_700_000_000_123, key="a.ts", index=0,
                         start_ms=1, duration_s=15.0, size=9)
    headers = {name: value.decode() for name, value in cloud_event_headers(event)}
    assert headers["ce_specversion"] == "1.0" and headers["ce_id"] == event.event_id
    assert headers["ce_type"] == "io.cloudrec.SliceWritten.v1"
    assert headers["ce_time"] == "2023-11-14T22:13:20.123000Z"
    assert headers["ce_source"] == "cloudrec/sid" and headers["content-type"] == "application/json"


@pytest.mark.parametrize("at_ms", [0, 5, 999, 1000, 1_700_000_000_000, 1_700_000_000_001,
                                   1_796_045_363_005, 4_102_444_800_000])
def test_ce_time_is_what_datetime_writes(at_ms: int) -> None:
    """The header's time is made from a cached second; it reads as datetime.isoformat's."""
    at = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    assert rfc3339(at_ms) == at.isoformat().replace("+00:00", "Z")


# LayoutUpdated as version 1 stored it (before the background images).
LAYOUT_UPDATED_V1 = (
    '{"type":"LayoutUpdated","schema_version":1,"stream_id":"sid","at_ms":5,"version":4,'
    '"generation":0,"event_id":"e4","layout":{"mixed_video_layout":1,"max_resolution_uid":null,'
    '"background_color":"#FF0000","layout_config":null}}'
)


def test_a_stored_layout_updated_v1_is_upcast_to_v2_without_images() -> None:
    event = catalog.decode(LAYOUT_UPDATED_V1)
    assert isinstance(event, LayoutUpdated)
    assert (event.schema_version, event.layout.background_color) == (2, "#FF0000")
    assert event.layout.image_urls() == [] and event.layout.background_config is None


def test_event_ids_are_uuid7_in_the_order_they_were_made() -> None:
    """Time-ordered ids keep a log's index of event ids growing at its end."""
    earlier = [SliceWritten(stream_id="sid", at_ms=5, key="a.ts", index=0, start_ms=1,
                            duration_s=15.0, size=9).event_id for _ in range(100)]
    time.sleep(0.002)
    later = SliceWritten(stream_id="sid", at_ms=5, key="a.ts", index=0, start_ms=1,
                         duration_s=15.0, size=9).event_id
    assert len(set(earlier)) == 100
    for made in (*earlier, later):
        parsed = uuid.UUID(made)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and parsed.hex == made
        assert abs((parsed.int >> 80) - time.time() * 1000) < 5000  # Unix milliseconds
    assert max(earlier) < later
