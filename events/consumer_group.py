"""A projection runner's Kafka consumer group: where the group stands, committed last.

The runner's own store holds the truth (views and position in one write, style rule 6); the
group's committed offset comes after it (rule 7) so Kafka tooling sees the runner's lag and a
plain consumer could take over. Position `p` (the log's `offset + 1`) is committed as offset `p`:
the next record to read. The group is used without joining (manual assignment of the single
events partition), so a runner never waits for a rebalance.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from cloudrec.events.kafka import BackgroundLoop, KafkaAddress


class ConsumerGroup:
    def __init__(self, url: str, group_id: str) -> None:
        self.address, self.group_id = KafkaAddress.parse(url), group_id
        self._partition = TopicPartition(self.address.topic, 0)
        self._loop = BackgroundLoop(f"kafka-group-{group_id}")
        self._loop.run(self._start(), 60)

    async def _start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.address.bootstrap, group_id=self.group_id,
            enable_auto_commit=False)
        await self._consumer.start()
        self._consumer.assign([self._partition])

    def commit(self, position: int) -> None:
        """Record that everything up to `position` is done (the runner calls this last)."""
        offsets = {self._partition: OffsetAndMetadata(position, "")}
        self._loop.run(self._consumer.commit(offsets), 120)

    def committed(self) -> int:
        """The group's committed position (0 when it never committed)."""
        return int(self._loop.run(self._consumer.committed(self._partition), 60) or 0)

    def close(self) -> None:
        self._loop.run(self._consumer.stop(), 30)
        self._loop.stop()
