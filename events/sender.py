"""Sending appends to the events partitions: concurrent appends to a partition share a batch.

aiokafka sends one batch per partition per request, so one record batch per append would allow one
append per partition per broker round trip. The sender instead takes every append waiting when a
request can go, puts those of each partition in ONE record batch (each append's records stay
contiguous and carry its batch id, so the fold still accepts or rejects each append whole), sends
the partitions' batches together, and hands each caller the offset of its first record. A refused
request is sent again until it is acknowledged (an append whose caller gave up is left out of the
next try); copies that did land twice are recognised by event id.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)
Records = list[tuple[bytes, bytes, list[tuple[str, bytes]]]]
Waiting = tuple[Records, "asyncio.Future[int]"]
MAX_BATCH_BYTES = 512 * 1024


class BatchSender:
    def __init__(self, producer: Any, topic: str, retry_s: float = 0.5) -> None:
        self.producer, self.topic, self.retry_s = producer, topic, retry_s
        self._waiting: dict[int, list[Waiting]] = {}
        self._wakeup = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def send(self, records: Records, partition: int, timeout_s: float) -> int:
        """Send these records (one append) to `partition`; return the offset of the first."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(partition, []).append((records, future))
        self._wakeup.set()
        return await asyncio.wait_for(future, timeout_s)

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while any(self._waiting.values()):
                await asyncio.gather(*(self._send_or_fail(partition, self._take(waiting))
                                       for partition, waiting in self._waiting.items()
                                       if waiting))

    @staticmethod
    def _take(waiting: list[Waiting]) -> list[Waiting]:
        """The appends waiting first, as many as fit MAX_BATCH_BYTES (at least one)."""
        taken: list[Waiting] = []
        size = 0
        while waiting:
            grows = sum(len(key) + len(value) + sum(len(k) + len(v) for k, v in headers)
                        for key, value, headers in waiting[0][0])
            if taken and size + grows > MAX_BATCH_BYTES:
                break
            taken.append(waiting.pop(0))
            size += grows
        return taken

    async def _send_or_fail(self, partition: int, appends: list[Waiting]) -> None:
        """Send; an append the broker can never take (larger than a record batch) fails its
        caller instead of stopping the sender for every append after it."""
        try:
            await self._send(partition, appends)
        except Exception as error:
            for _, future in appends:
                if not future.done():
                    future.set_exception(error)

    async def _send(self, partition: int, appends: list[Waiting]) -> None:
        while live := [(r, f) for r, f in appends if not f.done()]:
            try:
                sent = await (await self.producer.send_batch(self._batch(live), self.topic,
                                                             partition=partition))
            except KafkaError as error:
                log.warning("events: send failed (%r), retrying in %.1f s", error, self.retry_s)
                await asyncio.sleep(self.retry_s)
                continue
            offset = sent.offset
            for records, future in live:
                if not future.done():
                    future.set_result(offset)
                offset += len(records)
            return

    def _batch(self, appends: list[Waiting]) -> Any:
        batch = self.producer.create_batch()
        for records, _ in appends:
            for key, value, headers in records:
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    raise ValueError("an append larger than a Kafka record batch (1 MiB)")
        return batch
