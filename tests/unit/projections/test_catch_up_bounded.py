"""`ProjectionRunner.catch_up` ends at the log's end as of its last read, even while appends keep
coming: on a log whose every read is slow (Kafka: a broker round trip) a writer appended during
each read and the catch-up, reading until a read came back empty, never returned."""

from __future__ import annotations

from cloudrec.events.envelope import Event
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
