"""The write-through cache in front of a durable view store."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudrec.projections.runner import MemoryViewStore, ViewStore
from cloudrec.projections.view_store import CachedViewStore, SqliteViewStore

from .test_runner import ViewStoreContract


class TestCachedViewStore(ViewStoreContract):
    def make_store(self) -> ViewStore:
        return CachedViewStore(MemoryViewStore())


class Refusing(MemoryViewStore):
    def save(self, views, position, partition=0, expected=None) -> None:  # type: ignore[no-untyped-def]
        raise OSError("disk full")


def test_a_view_that_failed_to_save_is_not_cached() -> None:
    store = CachedViewStore(Refusing())

    with pytest.raises(OSError):
        store.save({"a": 1}, 3)

    assert (store.get("a"), store.position()) == (None, 0)


def test_reads_come_from_memory_and_the_oldest_are_dropped(tmp_path: Path) -> None:
    durable = SqliteViewStore(tmp_path / "views.db")
    store = CachedViewStore(durable, size=2)
    store.save({"a": 1, "b": 2, "c": 3}, 5)
    durable.save({"b": 20, "c": 30}, 6)  # behind the cache's back

    assert store.get("c") == 3  # from memory (the disk says 30)
    assert store.get("a") == 1  # dropped earlier: from disk, and b makes room for it
    assert store.get("b") == 20
