"""`ProjectionRunner.catch_up` ends at the log's end as of its last read, even while appends keep
coming: on a log whose every read is slow (Kafka: a broker round trip) a writer appended during
each read and the catch-up, reading until a read came back empty, never returned."""

from __future__ import annotations

from collections.abc import Mapping

from cloudrec.events.envelope import Event
from cloudrec.events.log import partition_of
from cloudrec.events.memory import MemoryEventLog
from cloudrec.projections import status
from cloudrec.projections.runner import MemoryViewStore, ProjectionRunner

from .session import SessionEvents


class BusyLog(MemoryEventLog):
    """Each read first lets a recording append one more event (up to `limit` of them)."""

    def __init__(self, limit: int = 10_000) -> None:
        super().__init__()
        self.events, self.reads, self.limit = SessionEvents(), 0, limit

    def read_all(self, after: int = 0, limit: int = 1000,
                 partition: int = 0) -> list[tuple[int, Event]]:
        self.reads += 1
        if self.reads < self.limit:
            self.append([self.events.stream("audio")])
        return super().read_all(after, limit, partition)


def test_a_catch_up_ends_while_appends_keep_coming_and_holds_what_came_before() -> None:
    log = BusyLog()
    log.append([log.events.started()])
    before = log.read_all()[-1][0]  # (this read appended one more)
    runner = ProjectionRunner(log, status, MemoryViewStore(), batch_size=3)
    log.reads = 0
    assert runner.catch_up() >= before
    assert log.reads <= 2  # 2 events then 1: the short batch was the end


def test_full_batches_are_read_on_until_a_short_one() -> None:
    log = MemoryEventLog()
    events = SessionEvents()
    log.append([events.started()] + [events.slice(n) for n in range(9)])
    runner = ProjectionRunner(log, status, MemoryViewStore(), batch_size=5)
    assert runner.catch_up() == log.read_all()[-1][0]  # 5, 5, then an empty read


class ShardedLog:
    """Three memory logs as the partitions of one, counting the log's reads."""

    partitions = 3

    def __init__(self) -> None:
        self.shards = [MemoryEventLog() for _ in range(self.partitions)]
        self.reads = 0

    def append(self, events: list[Event]) -> list[Event]:
        return self.shards[partition_of(events[0].stream_id, self.partitions)].append(events)

    def read_all(self, after: int = 0, limit: int = 1000,
                 partition: int = 0) -> list[tuple[int, Event]]:
        self.reads += 1
        return self.shards[partition].read_all(after, limit)

    def read_partitions(self, after: Mapping[int, int],
                        limit: int = 1000) -> dict[int, list[tuple[int, Event]]]:
        self.reads += 1
        return {p: self.shards[p].read_all(position, limit) for p, position in after.items()}


def test_a_catch_up_reads_all_its_partitions_at_once() -> None:
    """A runner following every partition catches them all up in one read per round (on Kafka
    one end-offsets request), not one read per partition: the webhook deliverer polls every
    20 ms, and with 6 partitions it made 6 broker round trips per poll."""
    log = ShardedLog()
    sessions = [SessionEvents(sid=f"sid{n}") for n in range(12)]
    assert len({partition_of(s.sid, 3) for s in sessions}) == 3  # every partition has some
    for session in sessions:
        log.append([session.started()] + [session.slice(n) for n in range(3)])
    runner = ProjectionRunner(log, status, MemoryViewStore(), batch_size=1000)  # type: ignore[arg-type]
    runner.catch_up()
    assert log.reads == 1
    for session in sessions:
        assert runner.view(session.sid) == status.fold(
            log.shards[partition_of(session.sid, 3)].read_stream(session.sid), session.sid)
    log.reads = 0
    small = ProjectionRunner(log, status, MemoryViewStore(), batch_size=7)  # type: ignore[arg-type]
    small.catch_up()
    most = max(len(shard.read_all()) for shard in log.shards)
    assert log.reads == most // 7 + 1  # rounds, each reading the partitions still full
    assert sum(small.store.position(p) for p in range(3)) == sum(
        len(shard.read_all()) for shard in log.shards)
