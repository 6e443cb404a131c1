"""A durable `ViewStore`: one SQLite file holding a projection's views and its log positions.

`save` writes the changed views and their partition's position in ONE transaction (style rule 6),
so a runner restarted after a crash resumes exactly where its views are, and a redelivered batch
(positions at or below the stored one) is skipped by the runner. Several runners may share one
file (a consumer group's members on one host): a save that names the position it started from
(`expected`) is refused with `Conflict` when another runner saved that partition meanwhile, in
the same transaction, so a batch is never applied twice even while a partition changes hands.
"""

from __future__ import annotations

import pickle
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cloudrec.projections.runner import Conflict

SCHEMA = """
CREATE TABLE IF NOT EXISTS views (stream_id TEXT PRIMARY KEY, view BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS positions (partition INTEGER PRIMARY KEY, position INTEGER NOT NULL);
"""
# A store written before partitions kept one position (of the single partition, 0)
MIGRATE = """
INSERT OR IGNORE INTO positions SELECT 0, position FROM position WHERE position IS NOT NULL;
DROP TABLE position;
"""


class SqliteViewStore:
    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(SCHEMA)
        if self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'position'").fetchone():
            self._db.executescript(f"BEGIN IMMEDIATE; {MIGRATE} COMMIT;")

    def position(self, partition: int = 0) -> int:
        with self._lock:
            return self._position(partition)

    def _position(self, partition: int) -> int:
        row = self._db.execute("SELECT position FROM positions WHERE partition = ?",
                               (partition,)).fetchone()
        return int(row[0]) if row else 0

    def get(self, stream_id: str) -> Any | None:
        with self._lock:
            row = self._db.execute("SELECT view FROM views WHERE stream_id = ?",
                                   (stream_id,)).fetchone()
        return pickle.loads(row[0]) if row else None

    def save(self, views: Mapping[str, Any], position: int, partition: int = 0,
             expected: int | None = None) -> None:
        rows = [(sid, pickle.dumps(view)) for sid, view in views.items()]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                stored = self._position(partition)
                if expected is not None and stored != expected:
                    raise Conflict(f"partition {partition} is at {stored}, not {expected}")
                self._db.executemany("INSERT OR REPLACE INTO views VALUES (?, ?)", rows)
                self._db.execute("INSERT OR REPLACE INTO positions VALUES (?, ?)",
                                 (partition, max(stored, position)))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CachedViewStore:
    """A view store with the latest `size` views kept in memory as well (write-through), for a
    runner that folds the same few streams over and over: no unpickling on every batch. Only
    saved views enter the cache, so a batch that failed to save is folded again from the
    stored views."""

    def __init__(self, store: Any, size: int = 10_000) -> None:
        self.store, self.size = store, size
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def position(self, partition: int = 0) -> int:
        return int(self.store.position(partition))

    def get(self, stream_id: str) -> Any | None:
        with self._lock:
            if stream_id in self._cache:
                self._cache.move_to_end(stream_id)
                return self._cache[stream_id]
        view = self.store.get(stream_id)
        if view is not None:
            self._remember({stream_id: view})
        return view

    def save(self, views: Mapping[str, Any], position: int, partition: int = 0,
             expected: int | None = None) -> None:
        try:
            self.store.save(views, position, partition, expected)
        except Conflict:  # another runner folded these streams: what we hold may be stale
            self.forget()
            raise
        self._remember(views)

    def forget(self) -> None:
        """Drop every cached view (a runner whose partitions changed hands calls this)."""
        with self._lock:
            self._cache.clear()

    def close(self) -> None:
        self.store.close()

    def _remember(self, views: Mapping[str, Any]) -> None:
        with self._lock:
            self._cache.update(views)
            for stream_id in views:
                self._cache.move_to_end(stream_id)
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
