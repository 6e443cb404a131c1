"""A projection runner's Kafka consumer group: where the group stands, committed last.

The runner's own store holds the truth (views and positions in one write, style rule 6); the
group's committed offsets come after it (rule 7) so Kafka tooling sees the runner's lag and a
plain consumer could take over. Position `p` of a partition (its `offset + 1`) is committed as
offset `p`: the next record to read. This group is used without joining (manual assignment of
every partition), so a runner that serves the whole topic never waits for a rebalance; runners
that split the partitions between them join theirs (`projections.group.GroupRunner`).

`commit` waits for the broker (a round trip and a write, ~6 ms, tens under load); `commit_later`
does not, for the runner on the `query` path, whose every catch-up would otherwise pay it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import OffsetAndMetadata

from cloudrec.events.kafka import BackgroundLoop, KafkaAddress, ensure_topic

log = logging.getLogger(__name__)


class CommitBehind:
    """Commits the latest positions handed to it, on `loop`, without making its caller wait:
    one commit in flight at a time, positions handed over meanwhile coalesce into the next,
    so each partition's committed position only grows and ends at the last one handed over.
    A failed commit is logged and left to the next position (it covers this one)."""

    def __init__(self, commit: Callable[[dict[int, int]], Awaitable[None]],
                 loop: asyncio.AbstractEventLoop) -> None:
        self._commit, self._loop = commit, loop
        self._lock = threading.Lock()
        self._wanted: dict[int, int] = {}
        self._in_flight = False

    def __call__(self, position: int, partition: int = 0) -> None:
        with self._lock:
            self._wanted[partition] = max(self._wanted.get(partition, 0), position)
            if self._in_flight:
                return
            self._in_flight = True
        asyncio.run_coroutine_threadsafe(self._drain(), self._loop)

    async def _drain(self) -> None:
        done: dict[int, int] = {}
        while True:
            with self._lock:
                wanted = {p: n for p, n in self._wanted.items() if n > done.get(p, 0)}
                if not wanted:
                    self._in_flight = False
                    return
                done.update(wanted)
            try:
                await self._commit(wanted)
            except Exception as error:  # the broker away: the next position covers this one
                log.warning("commit of positions %s failed: %r", wanted, error)


class ConsumerGroup:
    def __init__(self, url: str, group_id: str) -> None:
        self.address, self.group_id = KafkaAddress.parse(url), group_id
        self._loop = BackgroundLoop(f"kafka-group-{group_id}")
        self._loop.run(self._start(), 60)
        self.commit_later = CommitBehind(self._commit, self._loop.loop)

    async def _start(self) -> None:
        self._partitions = await topic_partitions(self.address)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.address.bootstrap, group_id=self.group_id,
            enable_auto_commit=False)
        await self._consumer.start()
        self._consumer.assign(self._partitions)

    def commit(self, position: int, partition: int = 0) -> None:
        """Record that everything of `partition` up to `position` is done (the runner calls
        this last)."""
        self._loop.run(self._commit({partition: position}), 120)

    async def _commit(self, positions: dict[int, int]) -> None:
        await self._consumer.commit({TopicPartition(self.address.topic, p): OffsetAndMetadata(
            position, "") for p, position in positions.items()})

    def committed(self, partition: int = 0) -> int:
        """The group's committed position in `partition` (0 when it never committed)."""
        tp = TopicPartition(self.address.topic, partition)
        return int(self._loop.run(self._consumer.committed(tp), 60) or 0)

    def close(self) -> None:
        self._loop.run(self._consumer.stop(), 30)
        self._loop.stop()


async def topic_partitions(address: KafkaAddress) -> list[TopicPartition]:
    """Every partition of the events topic (created with cloudrec's settings if missing)."""
    count = await ensure_topic(address.bootstrap, address.topic, address.partitions)
    return [TopicPartition(address.topic, p) for p in range(count)]


class Membership:
    """Membership of a Kafka consumer group that splits the events topic's partitions between
    its members (Kafka's group protocol, round-robin assignor): `on_assigned(partitions)` and
    `on_revoked(partitions)` are called (on a worker thread; the group waits for them) as
    partitions come and go, so a member finishes and saves what it folded of a partition before
    another member gets it. No records are fetched through it (the member reads the log; its
    partitions stay paused): it only joins, heartbeats, and commits offsets of what it owns."""

    def __init__(self, url: str, group_id: str, on_assigned: Callable[[set[int]], None],
                 on_revoked: Callable[[set[int]], None], session_timeout_ms: int = 10000) -> None:
        self.address, self.group_id = KafkaAddress.parse(url), group_id
        self._on_assigned, self._on_revoked = on_assigned, on_revoked
        self.owned: set[int] = set()
        self._loop = BackgroundLoop(f"kafka-member-{group_id}")
        self._loop.run(self._start(session_timeout_ms), 60)

    async def _start(self, session_timeout_ms: int) -> None:
        await ensure_topic(self.address.bootstrap, self.address.topic, self.address.partitions)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.address.bootstrap, group_id=self.group_id,
            enable_auto_commit=False, session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=max(100, session_timeout_ms // 10))
        await self._consumer.start()
        self._consumer.subscribe([self.address.topic], listener=_Listener(self))
        self._poll = asyncio.create_task(self._keep_polling())

    async def _keep_polling(self) -> None:
        """Poll (nothing comes: every partition is paused) so the group keeps this member."""
        while True:
            try:
                await self._consumer.getmany(timeout_ms=500)
            except KafkaError as error:
                log.warning("group %s: poll failed (%r)", self.group_id, error)
                await asyncio.sleep(0.5)

    async def assigned(self, partitions: set[TopicPartition]) -> None:
        self._consumer.pause(*partitions)
        numbers = {tp.partition for tp in partitions}
        await asyncio.get_running_loop().run_in_executor(None, self._on_assigned, numbers)
        self.owned |= numbers

    async def revoked(self, partitions: set[TopicPartition]) -> None:
        numbers = {tp.partition for tp in partitions}
        self.owned -= numbers
        await asyncio.get_running_loop().run_in_executor(None, self._on_revoked, numbers)

    def commit(self, position: int, partition: int = 0) -> None:
        """Commit what is done of a partition this member owns, without waiting (a commit may
        wait for a rebalance, and a rebalance waits for the member's `on_revoked`). A commit
        refused because the partition just moved is left: the view store is the truth."""
        asyncio.run_coroutine_threadsafe(self._commit(position, partition), self._loop.loop)

    async def _commit(self, position: int, partition: int) -> None:
        try:
            await self._consumer.commit({TopicPartition(self.address.topic, partition):
                                         OffsetAndMetadata(position, "")})
        except (KafkaError, CommitFailedError) as error:
            log.info("group %s: commit of partition %d refused (%r)", self.group_id, partition,
                     error)

    def close(self) -> None:
        """Leave the group (its partitions go to the other members at once)."""
        async def stop() -> None:
            self._poll.cancel()
            await asyncio.gather(self._poll, return_exceptions=True)
            await self._consumer.stop()  # revokes (the member saves), then leaves
        self._loop.run(stop(), 60)
        self._loop.stop()


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, member: Membership) -> None:
        self.member = member

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.member.revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.member.assigned(set(assigned))
