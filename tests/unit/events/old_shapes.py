"""A whole recorded session in its events' first shapes, and what reading it must give (issue 16,
schema evolution): shared by the embedded test (tests/unit/events/test_old_shapes.py) and the
Kafka one (tests/integration/events/test_kafka_old_shapes.py).

The session is the inspection tests' recorded log (a mix session with a layout change, a recorder
failover, uploads and tracks published, and an individual session). Each event whose type has
older versions is stored in its first one, made by the product's own description of it
(`catalog.older_shape`: what later versions added is dropped).
"""

from __future__ import annotations

import json
from pathlib import Path

from cloudrec.events.catalog import OLDER_SHAPES, decode, encode, older_shape
from cloudrec.events.embedded import EmbeddedEventLog
from cloudrec.events.envelope import Event
from cloudrec.projections import callbacks, recovery, status

from ..inspect import recorded

SIDS = (recorded.MIX_SID, recorded.SOLO_SID)
FIRST_VERSION = {kind: min(v for k, v in OLDER_SHAPES if k == kind) for kind, _ in OLDER_SHAPES}


def record(folder: Path) -> tuple[list[Event], Path]:
    """The session's events as written today (in the log's order), and its SQLite file."""
    path = Path(recorded.record(folder).url.removeprefix("sqlite:///"))
    return read_all(EmbeddedEventLog(path)), path


def read_all(log: EmbeddedEventLog) -> list[Event]:
    try:
        return [event for _, event in log.read_all(limit=1_000_000)]
    finally:
        log.close()


def first_version(event: Event) -> int:
    """The schema_version `event`'s type was first stored in."""
    return FIRST_VERSION.get(getattr(event, "type", ""), event.schema_version)


def old_body(event: Event) -> bytes:
    """`event` encoded as its type's first version stored it."""
    if first_version(event) == event.schema_version:
        return encode(event)
    payload = json.loads(encode(event))
    return json.dumps(older_shape(payload, first_version(event))).encode()


def as_upcast(event: Event) -> Event:
    """`event` as its first shape reads today: the fields added later at their defaults."""
    return decode(old_body(event))


def assert_reads_as_today(read: list[Event], today: list[Event]) -> None:
    assert read == [as_upcast(event) for event in today]


def assert_folds_the_same(old: list[Event], today: list[Event], sid: str) -> None:
    """`old`: stream `sid` as today's code reads it from the old shapes."""
    expected = [as_upcast(e) for e in today if e.stream_id == sid]
    assert old and old == expected
    assert status.fold(old, sid) == status.fold(expected, sid)
    originals = [e for e in today if e.stream_id == sid]  # none of the later fields is in
    assert status.fold(old, sid) == status.fold(originals, sid)  # the `query` answer
    assert callbacks.notifications(old, sid) == callbacks.notifications(expected, sid)
    assert recovery.fold(old, sid) == recovery.fold(expected, sid)
