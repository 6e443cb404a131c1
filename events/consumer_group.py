"""A projection runner's Kafka consumer group: where the group stands, committed last.

The runner's own store holds the truth (views and position in one write, style rule 6); the
group's committed offset comes after it (rule 7) so Kafka tooling sees the runner's lag and a
plain consumer could take over. Position `p` (the log's `offset + 1`) is committed as offset `p`:
the next record to read. The group is used without joining (manual assignment of the single
events partition), so a runner never waits for a rebalance.

`commit` waits for the broker (a round trip and a write, ~6 ms, tens under load); `commit_later`
does not, for the runner on the `query` path, whose every catch-up would otherwise pay it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from cloudrec.events.kafka import BackgroundLoop, KafkaAddress

log = logging.getLogger(__name__)


class CommitBehind:
    """Commits the latest position handed to it, on `loop`, without making its caller wait:
    one commit in flight at a time, positions handed over meanwhile coalesce into the next,
    so the committed position only grows and ends at the last one handed over. A failed
    commit is logged and left to the next position (it covers this one)."""

    def __init__(self, commit: Callable[[int], Awaitable[None]],
                 loop: asyncio.AbstractEventLoop) -> None:
        self._commit, self._loop = commit, loop
        self._lock = threading.Lock()
        self._wanted = 0
        self._in_flight = False

    def __call__(self, position: int) -> None:
        with self._lock:
            self._wanted = max(self._wanted, position)
            if self._in_flight:
                return
            self._in_flight = True
        asyncio.run_coroutine_threadsafe(self._drain(), self._loop)

    async def _drain(self) -> None:
        done = 0
        while True:
            with self._lock:
                if self._wanted <= done:
                    self._in_flight = False
                    return
                done = self._wanted
            try:
                await self._commit(done)
            except Exception as error:  # the broker away: the next position covers this one
                log.warning("commit of position %d failed: %r", done, error)


class ConsumerGroup:
    def __init__(self, url: str, group_id: str) -> None:
        self.address, self.group_id = KafkaAddress.parse(url), group_id
        self._partition = TopicPartition(self.address.topic, 0)
        self._loop = BackgroundLoop(f"kafka-group-{group_id}")
        self._loop.run(self._start(), 60)
        self.commit_later = CommitBehind(self._commit, self._loop.loop)

    async def _start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.address.bootstrap, group_id=self.group_id,
            enable_auto_commit=False)
        await self._consumer.start()
        self._consumer.assign([self._partition])

    def commit(self, position: int) -> None:
        """Record that everything up to `position` is done (the runner calls this last)."""
        self._loop.run(self._commit(position), 120)

    async def _commit(self, position: int) -> None:
        await self._consumer.commit({self._partition: OffsetAndMetadata(position, "")})

    def committed(self) -> int:
        """The group's committed position (0 when it never committed)."""
        return int(self._loop.run(self._consumer.committed(self._partition), 60) or 0)

    def close(self) -> None:
        self._loop.run(self._consumer.stop(), 30)
        self._loop.stop()
