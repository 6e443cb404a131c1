"""`CommitBehind`: the status runner's consumer-group commit off the `query` path. Callers never
wait for the broker; commits go one at a time, only grow, and end at the last position handed
over, also when one fails. Tried with a fake commit (no broker) on a real background loop."""

from __future__ import annotations

import asyncio
import threading
import time

from cloudrec.events.consumer_group import CommitBehind
from cloudrec.events.kafka import BackgroundLoop


class SlowBroker:
    def __init__(self, seconds: float = 0.02, fail_first: bool = False) -> None:
        self.seconds, self.fail_next = seconds, fail_first
        self.committed: list[int] = []  # partition 0's
        self.requests: list[dict[int, int]] = []

    async def commit(self, positions: dict[int, int]) -> None:
        await asyncio.sleep(self.seconds)
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("broker away")
        self.requests.append(positions)
        if 0 in positions:
            self.committed.append(positions[0])


def settle(broker: SlowBroker, last: int, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (not broker.committed or broker.committed[-1] != last) and time.monotonic() < deadline:
        time.sleep(0.01)


def test_callers_do_not_wait_and_commits_coalesce_to_the_last_position() -> None:
    loop, broker = BackgroundLoop("test-commit-behind"), SlowBroker()
    commit = CommitBehind(broker.commit, loop.loop)
    waited: list[float] = []

    def runner(offset: int) -> None:
        for n in range(50):
            began = time.perf_counter()
            commit(offset + 4 * n)
            waited.append(time.perf_counter() - began)
            time.sleep(0.001)

    threads = [threading.Thread(target=runner, args=(k,)) for k in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    settle(broker, 200)
    loop.stop()
    assert broker.committed[-1] == 200  # the last position handed over (4 + 4 * 49)
    assert broker.committed == sorted(set(broker.committed))  # one at a time, only growing
    assert len(broker.committed) < 100  # coalesced: 200 hand-overs
    assert max(waited) < 0.015  # below one commit (20 ms): nobody waited for the broker


def test_a_failed_commit_is_covered_by_the_next_position() -> None:
    loop, broker = BackgroundLoop("test-commit-behind"), SlowBroker(0.005, fail_first=True)
    commit = CommitBehind(broker.commit, loop.loop)
    commit(7)
    time.sleep(0.1)
    assert broker.committed == []
    commit(9)
    settle(broker, 9)
    loop.stop()
    assert broker.committed == [9]


def test_partitions_commit_together_each_ending_at_its_last_position() -> None:
    loop, broker = BackgroundLoop("test-commit-behind"), SlowBroker(0.02)
    commit = CommitBehind(broker.commit, loop.loop)
    for n in range(1, 21):
        commit(n, 0)
        commit(100 + n, 3)
    settle(broker, 20)
    time.sleep(0.05)
    loop.stop()
    last: dict[int, int] = {}
    for request in broker.requests:  # only positions that moved, only growing
        assert all(position > last.get(p, 0) for p, position in request.items())
        last.update(request)
    assert last == {0: 20, 3: 120} and len(broker.requests) < 20
