"""A whole recorded session stored in the events' older shapes is read by today's code (issue 16,
schema evolution).

What is tried: the inspection tests' recorded log (a mix session with a layout change, a
recorder failover, uploads and tracks published, and an individual session) is rewritten in
place, in SQLite, with every event whose type has an upcaster stored in its first shape (made by
code here: `OLDER` drops what each later version added). Today's `EmbeddedEventLog` then reads
it. What is checked: every event type with an upcaster has an older shape here, and the session
holds each of them but TrackUnpublished (nobody unpublishes in it); every event reads back,
equal to the original with the added fields at their defaults; the status, the callbacks and
the recovery view fold to the same answers as from those events, and the `query` status the
same as from today's events. Only the embedded log is tried here; Kafka stores the same encoded
bodies (`catalog.encode`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cloudrec.events.catalog import UPCASTERS, decode
from cloudrec.events.embedded import EmbeddedEventLog
from cloudrec.events.envelope import Event
from cloudrec.projections import callbacks, recovery, status

from ..inspect import recorded

Payload = dict[str, Any]


def _without(*fields: str) -> Callable[[Payload], Payload]:
    def older(payload: Payload) -> Payload:
        return {k: v for k, v in payload.items() if k not in fields} | {"schema_version": 1}
    return older


def _layout_v1(payload: Payload) -> Payload:
    layout = {k: v for k, v in payload["layout"].items()
              if k not in ("background_image", "default_user_background_image",
                           "background_config")}
    return payload | {"schema_version": 1, "layout": layout}


OLDER: dict[str, Callable[[Payload], Payload]] = {  # today's shape -> version 1
    "FileUploaded": _without("md5", "restored"),
    "RecorderFailed": _without("new_uid"),
    "LayoutUpdated": _layout_v1,
    "TrackPublished": _without("layer"),
    "TrackUnpublished": _without("layer"),
}


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Event], Path]:
    """The session's events as written today, and a log holding them in their first shapes."""
    folder = tmp_path_factory.mktemp("old")
    session = recorded.record(folder)
    path = Path(session.url.removeprefix("sqlite:///"))
    today = _read_all(path)
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT position, type, body FROM events").fetchall()
        for position, kind, body in rows:
            if kind in OLDER:
                old = OLDER[kind](json.loads(body))
                db.execute("UPDATE events SET body = ? WHERE position = ?",
                           (json.dumps(old), position))
    return today, path


def _read_all(path: Path) -> list[Event]:
    log = EmbeddedEventLog(path)
    try:
        return [event for _, event in log.read_all(limit=1_000_000)]
    finally:
        log.close()


def _as_upcast(event: Event) -> Event:
    """`event` as its first shape reads today: the fields added later at their defaults."""
    payload = json.loads(event.model_dump_json())
    kind = payload["type"]
    return decode(json.dumps(OLDER[kind](payload))) if kind in OLDER else event


def test_every_changed_type_has_an_older_shape_and_the_session_holds_each(logs) -> None:
    today, path = logs
    changed = {kind for kind, _ in UPCASTERS}
    assert changed == set(OLDER)
    with sqlite3.connect(path) as db:
        stored = {kind: json.loads(body)["schema_version"]
                  for kind, body in db.execute("SELECT type, body FROM events")}
    assert {kind for kind in changed if stored.get(kind) == 1} == changed - {"TrackUnpublished"}


def test_todays_code_reads_every_old_event(logs) -> None:
    today, path = logs
    assert _read_all(path) == [_as_upcast(event) for event in today]


@pytest.mark.parametrize("sid", [recorded.MIX_SID, recorded.SOLO_SID])
def test_the_views_fold_the_same_from_the_old_shapes(logs, sid: str) -> None:
    today, path = logs
    log = EmbeddedEventLog(path)
    try:
        old = log.read_stream(sid)
    finally:
        log.close()
    expected = [_as_upcast(e) for e in today if e.stream_id == sid]
    assert old and old == expected
    assert status.fold(old, sid) == status.fold(expected, sid)
    originals = [e for e in today if e.stream_id == sid]  # none of the later fields is in
    assert status.fold(old, sid) == status.fold(originals, sid)  # the `query` answer
    assert callbacks.notifications(old, sid) == callbacks.notifications(expected, sid)
    assert recovery.fold(old, sid) == recovery.fold(expected, sid)
