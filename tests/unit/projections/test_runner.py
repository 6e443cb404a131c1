"""The generic runner over the in-memory log: fold per stream, view + position in one write,
redelivery is a no-op, callbacks are delivered before the position moves."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudrec.events.channel import UserJoined
from cloudrec.events.envelope import Event
from cloudrec.events.memory import MemoryEventLog
from cloudrec.projections import callbacks, recovery, status
from cloudrec.projections.runner import (
    CallbackRunner,
    MemoryViewStore,
    ProjectionRunner,
    ViewStore,
)

from .session import T0, SessionEvents


class ViewStoreContract:
    """Every ViewStore backend passes this suite; subclass and implement `make_store`."""

    def make_store(self) -> ViewStore:
        raise NotImplementedError

    def test_empty_store(self) -> None:
        store = self.make_store()

        assert store.position() == 0
        assert store.get("sid1") is None

    def test_views_and_position_are_saved_together(self) -> None:
        store = self.make_store()

        store.save({"a": 1, "b": 2}, 5)
        store.save({"a": 3}, 7)

        assert (store.get("a"), store.get("b"), store.position()) == (3, 2, 7)


class TestMemoryViewStore(ViewStoreContract):
    def make_store(self) -> ViewStore:
        return MemoryViewStore()


def two_sessions(log: MemoryEventLog) -> tuple[SessionEvents, SessionEvents]:
    a, b = SessionEvents("sidA"), SessionEvents("sidB", mp4=True)
    for session in (a, b):
        log.append(session.full()[:6])
    log.append([UserJoined(stream_id="app1/room42", at_ms=T0, uid=7)])
    for session in (a, b):
        log.append(session.full()[6:])
    return a, b


def test_catch_up_folds_every_stream_and_stores_the_position() -> None:
    log = MemoryEventLog()
    two_sessions(log)
    runner = ProjectionRunner(log, status, MemoryViewStore(), batch_size=5)

    position = runner.catch_up()

    assert position == len(log.read_all(limit=10_000))
    for sid in ("sidA", "sidB"):
        assert runner.view(sid) == status.fold(log.read_stream(sid))
    assert runner.view("sidA").ended


def test_resuming_from_the_stored_position_equals_one_fold() -> None:
    log, s = MemoryEventLog(), SessionEvents()
    events = s.full()
    store = MemoryViewStore()
    log.append(events[:5])
    ProjectionRunner(log, recovery, store).catch_up()

    log.append(events[5:])
    ProjectionRunner(log, recovery, store).catch_up()  # a restarted runner, same store

    assert store.get("sid1") == recovery.fold(log.read_stream("sid1"))


def test_a_redelivered_batch_is_a_no_op() -> None:
    log, s = MemoryEventLog(), SessionEvents()
    log.append(s.full()[:5])
    commits: list[int] = []
    runner = ProjectionRunner(log, status, MemoryViewStore(),
                              commit=lambda position, partition: commits.append(position))
    runner.catch_up()
    view = runner.view("sid1")

    assert runner.process(log.read_all()) == 5  # the whole stream delivered again

    assert runner.view("sid1") == view
    assert commits == [5]


def test_a_partly_redelivered_batch_applies_only_the_new_positions() -> None:
    log, s = MemoryEventLog(), SessionEvents()
    log.append(s.full())
    runner = ProjectionRunner(log, status, MemoryViewStore())
    runner.process(log.read_all(limit=3))

    runner.process(log.read_all())

    assert runner.view("sid1") == status.fold(log.read_stream("sid1"))


def test_wait_for_a_position() -> None:
    log, s = MemoryEventLog(), SessionEvents()
    log.append(s.full()[:4])
    runner = ProjectionRunner(log, status, MemoryViewStore())

    assert runner.wait_for(4, timeout=1.0)
    assert not runner.wait_for(5, timeout=0.05)


class RecordingStore(MemoryViewStore):
    def __init__(self, trail: list[str]) -> None:
        super().__init__()
        self.trail = trail

    def save(self, views, position: int, partition=0, expected=None) -> None:  # type: ignore[no-untyped-def]
        self.trail.append(f"save {position}")
        super().save(views, position, partition, expected)


def test_callbacks_are_delivered_before_the_position_then_the_offset_commit() -> None:
    log, s = MemoryEventLog(), SessionEvents()
    log.append(s.full())
    trail: list[str] = []
    runner = CallbackRunner(
        log, callbacks, RecordingStore(trail),
        deliver=lambda n: trail.append(f"deliver {n['eventType']}"),
        commit=lambda position, partition: trail.append(f"commit {position}"),
    )  # fmt: skip

    runner.catch_up()

    assert trail == [f"deliver {t}" for t in (40, 30, 43, 44, 42, 4, 41, 31, 11)] + [
        "save 16", "commit 16",
    ]  # fmt: skip
    assert runner.view("sid1").sequence == 9


def test_a_failed_delivery_keeps_the_position_and_retries_the_same_notices() -> None:
    log, s = MemoryEventLog(), SessionEvents()
    log.append(s.full()[:3])
    delivered: list[dict] = []

    def flaky(notice: dict) -> None:
        delivered.append(notice)
        if len(delivered) == 2:
            raise ConnectionError("receiver down")

    store = MemoryViewStore()
    with pytest.raises(ConnectionError):
        CallbackRunner(log, callbacks, store, deliver=flaky).catch_up()
    assert store.position() == 0

    CallbackRunner(log, callbacks, store, deliver=flaky).catch_up()

    ids = [n["noticeId"] for n in delivered]
    assert ids[2:] == ids[:2]  # at least once, same noticeId: receivers dedupe
    assert store.position() == 3


def test_redelivered_events_do_not_notify_twice() -> None:
    log, s = MemoryEventLog(), SessionEvents()
    log.append(s.full())
    delivered: list[dict] = []
    runner = CallbackRunner(log, callbacks, MemoryViewStore(), deliver=delivered.append)
    runner.catch_up()

    runner.process(log.read_all())

    assert len(delivered) == 9


def test_a_batch_saved_after_its_partition_moved_on_is_dropped_not_applied_twice(
        tmp_path: Path) -> None:
    """Two runners share a store (members of one group); the first reads a batch, the second
    folds and saves the same positions meanwhile (it was handed the partition), then the first
    tries to save: refused, and the views hold each event once."""
    from cloudrec.projections.view_store import SqliteViewStore

    log, s = MemoryEventLog(), SessionEvents()
    log.append(s.full()[:5])
    path = tmp_path / "views.db"
    slow = ProjectionRunner(log, Counted(), SqliteViewStore(path))
    fast = ProjectionRunner(log, Counted(), SqliteViewStore(path))
    batch = log.read_all()  # the slow one read it ...
    fast.catch_up()  # ... the other folded and saved it meanwhile
    assert slow.process(batch) == 5  # refused: the store is already there
    assert slow.view("sid1") == fast.view("sid1") == 5
    log.append(s.full()[5:7])
    slow.catch_up()
    assert fast.view("sid1") == 7 and fast.store.position() == 7


class Counted:
    """Counts the events applied to a stream: a batch applied twice shows."""

    @staticmethod
    def initial(sid: str) -> int:
        return 0

    @staticmethod
    def apply(view: int, event: Event) -> int:
        return view + 1
