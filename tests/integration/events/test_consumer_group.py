"""Projection runners scale out in a Kafka consumer group (issue 16 point 4).

What is tried: a topic of 4 partitions, 40 streams appended to without pause by a writer
thread; two runners (each its own log client and group member, one shared view store) join
one group and split the partitions; a third joins and then one leaves while appends go on.
What is checked: at every step the members' partitions are disjoint and cover the topic;
afterwards every stream's view, folded by whichever members owned its partition, lists each of
its events exactly once and in order, and equals a fresh replay of the whole log from offset 0.
(A member that saves a batch after its partition moved on is refused: tests/unit/projections/
test_runner.py, `Conflict`.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cloudrec.events.consumer_group import Membership
from cloudrec.events.envelope import Event
from cloudrec.events.kafka import KafkaEventLog
from cloudrec.events.log import every_event
from cloudrec.projections.group import GroupRunner
from cloudrec.projections.runner import MemoryViewStore, ProjectionRunner
from cloudrec.projections.view_store import CachedViewStore, SqliteViewStore

from ...unit.events.contract import slice_event

pytestmark = pytest.mark.integration
PARTITIONS = 4
STREAMS = [f"rec-{n}" for n in range(40)]


class EventIds:
    """A projection that shows loss and duplicates: a stream's event ids, as applied."""

    @staticmethod
    def initial(stream_id: str) -> tuple[str, ...]:
        return ()

    @staticmethod
    def apply(view: tuple[str, ...], event: Event) -> tuple[str, ...]:
        return (*view, event.event_id)


class Writer(threading.Thread):
    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.log, self.stopping, self.written = KafkaEventLog(url), threading.Event(), 0

    def run(self) -> None:
        index = 0
        while not self.stopping.is_set():
            for stream in STREAMS:
                self.log.append([slice_event(stream, index)])
                self.written += 1
            index += 1

    def stop(self) -> None:
        self.stopping.set()
        self.join(60)
        self.log.close()


def member(url: str, views: Path) -> GroupRunner:
    runner = ProjectionRunner(KafkaEventLog(url), EventIds(), CachedViewStore(
        SqliteViewStore(views)), batch_size=50)
    return GroupRunner(runner, lambda assigned, revoked: Membership(
        url, "test-group", assigned, revoked, session_timeout_ms=6000))


def settled(members: list[GroupRunner], timeout_s: float = 60.0) -> list[set[int]]:
    """Wait until the members' partitions are disjoint, each has some, and cover the topic."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        owned = [m.partitions for m in members]
        if all(owned) and sum(map(len, owned)) == PARTITIONS and \
                set().union(*owned) == set(range(PARTITIONS)):
            return owned
        time.sleep(0.1)
    raise AssertionError(f"the group did not settle: {[m.partitions for m in members]}")


def wait(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_members_split_partitions_and_hand_them_over_without_loss_or_repeats(
        kafka_url: str, tmp_path: Path) -> None:
    url, views = f"{kafka_url}?partitions={PARTITIONS}", tmp_path / "views.db"
    writer = Writer(url)
    writer.start()
    a, b = member(url, views), member(url, views)
    members = [a, b]
    try:
        settled([a, b])
        wait(lambda: writer.written > 400)
        c = member(url, views)  # a third joins: the partitions spread over three
        members.append(c)
        settled([a, b, c])
        wait(lambda: writer.written > 800)
        a.close()  # one leaves: its partitions go to the two others
        members.remove(a)
        settled([b, c])
        wait(lambda: writer.written > 1200)
    finally:
        writer.stop()
    reader = KafkaEventLog(url)
    try:
        ends = {p: (reader.read_all(after=0, limit=1_000_000, partition=p) or [(0, None)])[-1][0]
                for p in range(PARTITIONS)}
        store = SqliteViewStore(views)
        wait(lambda: all(store.position(p) >= end for p, end in ends.items()))
        for m in members:
            m.close()
        replay = ProjectionRunner(reader, EventIds(), MemoryViewStore())
        replay.catch_up()
        for stream in STREAMS:
            ids = tuple(e.event_id for e in reader.read_stream(stream))
            assert len(ids) >= 20
            assert store.get(stream) == ids == replay.view(stream)  # once each, in order
        assert sum(len(store.get(s)) for s in STREAMS) == len(list(every_event(reader)))
        store.close()
    finally:
        reader.close()


MEMBER = """
import sys, time
from pathlib import Path
from tests.integration.events.test_consumer_group import member
print("joined" if member(sys.argv[1], Path(sys.argv[2])) else "", flush=True)
time.sleep(600)
"""


def test_a_member_killed_mid_stream_loses_nothing_and_repeats_nothing(
        kafka_url: str, tmp_path: Path) -> None:
    """A member in its own process is SIGKILLed while appends go on (between or inside its
    batches: it folds every 50 events, without pause); the group gives its partitions to the
    survivor after the session timeout, which carries on from the positions saved with the
    views (in the same transaction), so every view still equals a replay."""
    url, views = f"{kafka_url}?partitions={PARTITIONS}", tmp_path / "views.db"
    writer = Writer(url)
    writer.start()
    survivor = member(url, views)
    child = subprocess.Popen([sys.executable, "-c", MEMBER, url, str(views)],
                             stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "joined"
        wait(lambda: 0 < len(survivor.partitions) < PARTITIONS)  # the other took some
        given_up = set(range(PARTITIONS)) - survivor.partitions
        store = SqliteViewStore(views)
        wait(lambda: all(store.position(p) > 0 for p in given_up))  # it was folding them
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        wait(lambda: survivor.partitions == set(range(PARTITIONS)))  # after the session
        wait(lambda: writer.written > 600)
    finally:
        child.kill()
        writer.stop()
    reader = KafkaEventLog(url)
    try:
        ends = {p: (reader.read_all(after=0, limit=1_000_000, partition=p) or [(0, None)])[-1][0]
                for p in range(PARTITIONS)}
        wait(lambda: all(store.position(p) >= end for p, end in ends.items()))
        survivor.close()
        replay = ProjectionRunner(reader, EventIds(), MemoryViewStore())
        replay.catch_up()
        for stream in STREAMS:
            assert store.get(stream) == replay.view(stream)  # once each, in order
        store.close()
    finally:
        reader.close()
