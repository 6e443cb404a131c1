"""A whole recorded session stored in the events' older shapes is read by today's code (issue 16,
schema evolution), embedded log half (the Kafka half: tests/integration/events/
test_kafka_old_shapes.py).

What is tried: the session of `old_shapes` is rewritten in place, in SQLite, with every event
whose type has an upcaster stored in its first shape (made by the product's `older_shape`).
Today's `EmbeddedEventLog` then reads it. What is checked: the session holds each changed type
but TrackUnpublished (nobody unpublishes in it) in its first shape; every event reads back, equal
to the original with the added fields at their defaults; the status, the callbacks and the
recovery view fold to the same answers as from those events, and the `query` status the same as
from today's events.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from cloudrec.events.catalog import UPCASTERS, decode
from cloudrec.events.embedded import EmbeddedEventLog
from cloudrec.events.envelope import Event

from . import old_shapes


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Event], Path]:
    """The session's events as written today, and a log holding them in their first shapes."""
    today, path = old_shapes.record(tmp_path_factory.mktemp("old"))
    with sqlite3.connect(path) as db:
        for position, body in db.execute("SELECT position, body FROM events").fetchall():
            db.execute("UPDATE events SET body = ? WHERE position = ?",
                       (old_shapes.old_body(decode(body)).decode(), position))
    return today, path


def test_the_session_holds_every_changed_type_in_its_first_shape(logs) -> None:
    today, path = logs
    with sqlite3.connect(path) as db:
        stored = {kind: json.loads(body)["schema_version"]
                  for kind, body in db.execute("SELECT type, body FROM events")}
    assert {kind for kind, version in UPCASTERS if stored.get(kind) == version} == {
        kind for kind, _ in UPCASTERS} - {"TrackUnpublished"}


def test_todays_code_reads_every_old_event(logs) -> None:
    today, path = logs
    old_shapes.assert_reads_as_today(old_shapes.read_all(EmbeddedEventLog(path)), today)


@pytest.mark.parametrize("sid", old_shapes.SIDS)
def test_the_views_fold_the_same_from_the_old_shapes(logs, sid: str) -> None:
    today, path = logs
    log = EmbeddedEventLog(path)
    try:
        old = log.read_stream(sid)
    finally:
        log.close()
    old_shapes.assert_folds_the_same(old, today, sid)
