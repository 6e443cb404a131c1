"""`SharedCatchUp`: many concurrent `query` readers share reads of the log, and each still sees
every append made before it asked (read-your-writes), without a lock held while reading.

Tried: 50 threads asking at once while a writer appends; a reader that asks right after an
append; a catch-up that fails once (the next reader runs another, nobody hangs)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

import pytest

from cloudrec.events.memory import MemoryEventLog
from cloudrec.projections import status
from cloudrec.projections.runner import MemoryViewStore, ProjectionRunner, SharedCatchUp

from .session import SessionEvents


class CountingRunner(ProjectionRunner):
    def __init__(self, log: MemoryEventLog, slow_s: float = 0.0) -> None:
        super().__init__(log, status, MemoryViewStore())
        self.calls, self.slow_s, self.fail_next = 0, slow_s, False

    def catch_up(self, partitions: Iterable[int] | None = None) -> int:
        self.calls += 1
        time.sleep(self.slow_s)  # a read of the log that takes a while
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("log away")
        return super().catch_up(partitions)


def test_fifty_concurrent_readers_share_a_few_reads_and_each_sees_its_writes() -> None:
    log = MemoryEventLog()
    runner = CountingRunner(log, slow_s=0.05)
    shared = SharedCatchUp(runner)
    seen_before: list[bool] = []
    lock = threading.Lock()

    def reader(n: int) -> None:
        log.append([SessionEvents(sid=f"s{n}").started()])  # each reader's own write first
        written = log.read_all(limit=10_000)[-1][0]  # at least as far as its write
        shared.catch_up()
        with lock:
            seen_before.append(runner.store.position() >= written)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert seen_before == [True] * 50
    assert runner.calls <= 10  # shared, not 50 reads one after another


def test_a_failed_read_raises_for_its_reader_and_the_next_reader_reads_again() -> None:
    log = MemoryEventLog()
    runner = CountingRunner(log)
    shared = SharedCatchUp(runner)
    log.append([SessionEvents().started()])
    runner.fail_next = True
    with pytest.raises(ConnectionError):
        shared.catch_up()
    shared.catch_up()
    assert runner.store.position() == log.read_all()[-1][0] and runner.calls == 2
