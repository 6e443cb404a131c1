"""The view-store contract, once per implementation (in-memory, durable SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudrec.projections import status
from cloudrec.projections.runner import MemoryViewStore, ProjectionRunner, ViewStore
from cloudrec.projections.view_store import SqliteViewStore

from .session import SessionEvents


class ViewStoreContract:
    def make_store(self) -> ViewStore:
        raise NotImplementedError

    def test_empty_store(self) -> None:
        store = self.make_store()
        assert store.position() == 0 and store.get("a") is None

    def test_views_and_position_are_saved_together(self) -> None:
        store = self.make_store()
        store.save({"a": status.initial("a"), "b": status.initial("b")}, 7)
        assert store.position() == 7
        assert store.get("a") == status.initial("a")

    def test_the_position_never_goes_back(self) -> None:
        store = self.make_store()
        store.save({}, 9)
        store.save({}, 4)
        assert store.position() == 9


class TestMemoryViewStore(ViewStoreContract):
    def make_store(self) -> ViewStore:
        return MemoryViewStore()


class TestSqliteViewStore(ViewStoreContract):
    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path: Path) -> None:
        self.path = tmp_path / "views.db"

    def make_store(self) -> ViewStore:
        return SqliteViewStore(self.path)

    def test_a_restarted_runner_resumes_from_the_stored_position(self) -> None:
        from cloudrec.events.memory import MemoryEventLog

        log, s = MemoryEventLog(), SessionEvents()
        events = s.full()
        log.append(events[:5])
        ProjectionRunner(log, status, SqliteViewStore(self.path)).catch_up()
        log.append(events[5:])
        reopened = SqliteViewStore(self.path)
        assert reopened.position() == 5
        runner = ProjectionRunner(log, status, reopened)
        runner.catch_up()
        assert runner.view(s.sid) == status.fold(events, s.sid)
