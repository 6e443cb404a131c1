"""The contract suite run against the in-memory and embedded (SQLite WAL) backends."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from cloudrec.events.embedded import EmbeddedEventLog
from cloudrec.events.log import EventLog
from cloudrec.events.memory import MemoryEventLog

from .contract import EventLogContract, slice_event


class TestMemoryEventLog(EventLogContract):
    def make_log(self) -> EventLog:
        return MemoryEventLog()


class TestEmbeddedEventLog(EventLogContract):
    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path: Path) -> None:
        self.tmp = tmp_path

    def make_log(self) -> EventLog:
        return EmbeddedEventLog(self.tmp / "events.db")


def _append_many(path: str, stream: str, n: int) -> None:
    log = EmbeddedEventLog(path)
    for i in range(n):
        log.append([slice_event(stream, i)])
    log.close()


def test_embedded_log_is_durable_and_shared_between_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_append_many, args=(path, s, 50)) for s in ("a", "b")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    reopened = EmbeddedEventLog(path)
    assert [e.version for e in reopened.read_stream("a")] == list(range(1, 51))
    assert len(reopened.read_all(limit=1000)) == 100
    mode = reopened._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
