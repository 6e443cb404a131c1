"""A durable `ViewStore`: one SQLite file holding a projection's views and its log position.

`save` writes the changed views and the position in ONE transaction (style rule 6), so a runner
restarted after a crash resumes exactly where its views are, and a redelivered batch (positions
at or below the stored one) is skipped by the runner.
"""

from __future__ import annotations

import pickle
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS views (stream_id TEXT PRIMARY KEY, view BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS position (one INTEGER PRIMARY KEY CHECK (one = 1), position INTEGER);
"""


class SqliteViewStore:
    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def position(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT position FROM position").fetchone()
        return int(row[0]) if row else 0

    def get(self, stream_id: str) -> Any | None:
        with self._lock:
            row = self._db.execute("SELECT view FROM views WHERE stream_id = ?",
                                   (stream_id,)).fetchone()
        return pickle.loads(row[0]) if row else None

    def save(self, views: Mapping[str, Any], position: int) -> None:
        rows = [(sid, pickle.dumps(view)) for sid, view in views.items()]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR REPLACE INTO views VALUES (?, ?)", rows)
                self._db.execute("INSERT INTO position VALUES (1, ?) ON CONFLICT(one) DO UPDATE"
                                 " SET position = MAX(position, excluded.position)", (position,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()
