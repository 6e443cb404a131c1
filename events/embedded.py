"""Embedded event log: one durable SQLite file in WAL mode, no server.

Safe for several processes on one machine (the API, the Ray actors): every append is one
`BEGIN IMMEDIATE` transaction that checks the fence, assigns versions and inserts. The common
append (new events, not fenced) is four statements: begin, one `UPDATE ... RETURNING` of the
stream's version that refuses a fenced generation, the inserts, commit; a repeated event id
(the UNIQUE index refuses it) or a new or fenced stream takes the careful path.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from cloudrec.events.catalog import decode, encode
from cloudrec.events.envelope import Event
from cloudrec.events.log import Fenced, check_fence, read_each, single_stream

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    body BLOB NOT NULL,
    UNIQUE (stream_id, version)
);
CREATE TABLE IF NOT EXISTS streams (
    stream_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    fence INTEGER NOT NULL
);
"""


INSERT_EVENT = ("INSERT INTO events (stream_id, version, event_id, type, body)"
                " VALUES (?,?,?,?,?)")


class EmbeddedEventLog:
    partitions = 1  # one append order: positions are global

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
        self._lock = threading.Lock()
        # 1 KB pages (a new file only): a commit writes each page it touched (the event, two
        # indexes, the stream's row) to the WAL, so 4 KB pages wrote 16 KB per append, and the
        # log took 15-20% fewer appends/s; checkpoints every 10 MB of WAL rather than 1 MB
        self._db.execute("PRAGMA page_size=1024")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA wal_autocheckpoint=10000")
        self._db.executescript(SCHEMA)

    def append(self, events: Sequence[Event]) -> list[Event]:
        if not events:
            return []
        stream = single_stream(events)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                stored = self._append_fast(stream, events)
                if stored is None:  # a repeat, a new stream or a fence: the careful way
                    self._db.execute("ROLLBACK")
                    self._db.execute("BEGIN IMMEDIATE")
                    stored = self._append_in_transaction(stream, events)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return stored

    def _append_fast(self, stream: str, events: Sequence[Event]) -> list[Event] | None:
        """New events on a known stream, none below its fence: one version update, then the
        inserts (the event id's UNIQUE index catches a repeat). None: take the careful path."""
        generations = [e.generation for e in events]
        try:
            check_fence(0, events)  # a stale generation within the append itself
        except Fenced:
            return None
        lowest = min((g for g in generations if g > 0), default=0)
        row = self._db.execute(
            "UPDATE streams SET version = version + ?, fence = MAX(fence, ?) WHERE stream_id = ?"
            " AND (? = 0 OR ? >= fence) RETURNING version", (len(events), max(generations),
                                                            stream, lowest, lowest)).fetchone()
        if row is None:
            return None
        first = row[0] - len(events) + 1
        stored = [e.stamped(first + i) for i, e in enumerate(events)]
        try:
            self._db.executemany(
                INSERT_EVENT,
                [(stream, e.version, e.event_id, getattr(e, "type", ""), encode(e))
                 for e in stored])
        except sqlite3.IntegrityError:
            return None
        return stored

    def _append_in_transaction(self, stream: str, events: Sequence[Event]) -> list[Event]:
        known = {e.event_id: e for e in self._stored_by_ids([e.event_id for e in events])}
        fresh = [e for e in events if e.event_id not in known]
        row = self._db.execute(
            "SELECT version, fence FROM streams WHERE stream_id = ?", (stream,)
        ).fetchone()
        version, fence = row if row else (0, 0)
        fence = check_fence(fence, fresh)
        for event in fresh:
            version += 1
            known[event.event_id] = stored = event.stamped(version)
            self._db.execute(
                INSERT_EVENT,
                (stream, version, stored.event_id, getattr(stored, "type", ""), encode(stored)),
            )
        self._db.execute(
            "INSERT INTO streams (stream_id, version, fence) VALUES (?,?,?) ON CONFLICT(stream_id)"
            " DO UPDATE SET version = excluded.version, fence = excluded.fence",
            (stream, version, fence),
        )
        return [known[e.event_id] for e in events]

    def _stored_by_ids(self, ids: list[str]) -> list[Event]:
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(f"SELECT body FROM events WHERE event_id IN ({marks})", ids)
        return [decode(body) for (body,) in rows]

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[Event]:
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM events WHERE stream_id = ? AND version > ? ORDER BY version",
                (stream_id, after_version),
            ).fetchall()
        return [decode(body) for (body,) in rows]

    def read_all(self, after: int = 0, limit: int = 1000,
                 partition: int = 0) -> list[tuple[int, Event]]:
        if partition != 0:
            raise ValueError(f"this log has one partition (0), not {partition}")
        with self._lock:
            rows = self._db.execute(
                "SELECT position, body FROM events WHERE position > ? ORDER BY position LIMIT ?",
                (after, limit),
            ).fetchall()
        return [(position, decode(body)) for position, body in rows]

    def read_partitions(self, after: Mapping[int, int],
                        limit: int = 1000) -> dict[int, list[tuple[int, Event]]]:
        return read_each(self, after, limit)

    def close(self) -> None:
        with self._lock:
            self._db.close()
