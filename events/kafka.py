"""Kafka event log: the `EventLog` port on Apache Kafka through aiokafka.

URL: `kafka://HOST:PORT[,HOST:PORT...][/TOPIC]` (topic default `cloudrec.events`).

Layout. One events topic with ONE partition, created by cloudrec (retention forever: the log is
the truth). Each event is a record keyed by its stream id (a recording's sid, or a channel's id),
with a JSON body and the CloudEvents Kafka-binding headers, so plain consumers need nothing from
cloudrec. Because the topic has one partition, a position is simply `offset + 1`, global and
ordered; scaling out to N partitions keeps every session in one partition (the key) but then needs
per-partition positions, which this version does not offer.

Contract. Kafka keeps what producers send; versions, idempotency and fencing are decided by a
deterministic fold of the partition (`replica.Replica`), which every `KafkaEventLog` keeps in memory
by tailing the topic from the beginning. An append waits until its own records come back through
that fold, so it returns exactly what every reader will see, and raises `Fenced` when the fold
rejected it (even if a newer generation raced it from another process). Reads first catch up to
the partition's end offset, so they see every append that returned before them.

Delivery. The producer is idempotent with `acks=all`; an append's records go out together in one
Kafka record batch (atomic), shared with the appends of other streams waiting at that moment
(`sender.BatchSender`). While the broker is away an append blocks and is sent again (same event
ids, so a copy that did land is recognised, never stored twice) until `append_timeout_s`; appends
of one stream from one process are serialised, so they are never reordered.

Limits, honestly: every process holds an index of the whole topic (fine for days of recordings,
not for years: a compacted snapshot topic would bound it); one partition bounds throughput to what
one partition takes.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from cloudrec.events.catalog import encode
from cloudrec.events.envelope import Event, cloud_event_headers
from cloudrec.events.log import Fenced, check_fence, single_stream
from cloudrec.events.replica import Record, Replica
from cloudrec.events.sender import BatchSender

T = TypeVar("T")
DEFAULT_TOPIC = "cloudrec.events"
BATCH_HEADER = "cloudrec_batch"  # "<batch id>:<events in the batch>"
GENERATION_HEADER = "cloudrec_generation"
EVENTS_TOPIC_CONFIG = {"cleanup.policy": "delete", "retention.ms": "-1",
                       "retention.bytes": "-1", "min.insync.replicas": "1"}


@dataclass(frozen=True)
class KafkaAddress:
    bootstrap: str
    topic: str = DEFAULT_TOPIC

    @classmethod
    def parse(cls, url: str) -> KafkaAddress:
        rest = url.removeprefix("kafka://")
        bootstrap, _, topic = rest.partition("/")
        if not bootstrap:
            raise ValueError(f"no bootstrap server in {url!r}: use kafka://HOST:PORT[/TOPIC]")
        return cls(bootstrap, topic or DEFAULT_TOPIC)


class BackgroundLoop:
    """A private asyncio loop on a daemon thread; `run` calls into it synchronously."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def record_of(message: Any) -> Record:
    headers = {k: v for k, v in message.headers}
    batch_id = headers[BATCH_HEADER].decode().partition(":")[0]
    return Record(position=message.offset + 1, stream_id=message.key.decode(),
                  event_id=headers["ce_id"].decode(),
                  generation=int(headers[GENERATION_HEADER]), batch_id=batch_id,
                  body=message.value)


def batch_size_of(message: Any) -> int:
    headers = {k: v for k, v in message.headers}
    return int(headers[BATCH_HEADER].decode().partition(":")[2])


def headers_of(event: Event, batch: str) -> list[tuple[str, bytes]]:
    headers = [(k, v.encode()) for k, v in cloud_event_headers(event).items()]
    return headers + [(BATCH_HEADER, batch.encode()),
                      (GENERATION_HEADER, str(event.generation).encode())]


class KafkaEventLog:
    def __init__(self, url: str, append_timeout_s: float = 300.0,
                 start_timeout_s: float = 120.0) -> None:
        self.address = KafkaAddress.parse(url)
        self.append_timeout_s = append_timeout_s
        self.replica = Replica()
        self._partition = TopicPartition(self.address.topic, 0)
        self._loop = BackgroundLoop(f"kafka-log-{self.address.topic}")
        self._stream_locks: dict[str, asyncio.Lock] = {}
        self._closed = False
        try:
            self._loop.run(self._start(start_timeout_s), start_timeout_s + 30)
        except BaseException:
            self._loop.stop()
            raise

    # -- the port ------------------------------------------------------------------------
    def append(self, events: Sequence[Event]) -> list[Event]:
        if not events:
            return []
        stream = single_stream(events)
        return self._loop.run(self._append(stream, list(events)))

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[Event]:
        return self._loop.run(self._read(lambda: self.replica.read_stream(stream_id,
                                                                          after_version)))

    def read_all(self, after: int = 0, limit: int = 1000) -> list[tuple[int, Event]]:
        return self._loop.run(self._read(lambda: self.replica.read_all(after, limit)))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._loop.run(self._stop(), 30)
        finally:
            self._loop.stop()

    # -- lifecycle (on the private loop) -------------------------------------------------
    async def _start(self, timeout_s: float) -> None:
        """Connect, retrying while the broker is away (it may be restarting), then catch up."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                await self._connect()
                break
            except KafkaError:
                await self._disconnect()
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(0.5)
        self._advanced = asyncio.Condition()
        self._sender = BatchSender(self._producer, self.address.topic)
        self._tail = asyncio.create_task(self._follow())
        await self._catch_up(deadline)

    async def _connect(self) -> None:
        await ensure_topic(self.address.bootstrap, self.address.topic)
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.address.bootstrap, enable_idempotence=True, acks="all",
            linger_ms=0, max_batch_size=1 << 20, request_timeout_ms=15000)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.address.bootstrap, enable_auto_commit=False,
            fetch_max_wait_ms=100, auto_offset_reset="earliest")
        # End offsets on a connection of their own: a broker answers one connection's requests
        # in order, so on the follower's they waited behind its 100 ms long-poll fetch, and
        # every read_all (each `query`) took 100 ms
        self._offsets = AIOKafkaConsumer(bootstrap_servers=self.address.bootstrap,
                                         enable_auto_commit=False)
        await self._producer.start()
        await self._consumer.start()
        await self._offsets.start()
        self._consumer.assign([self._partition])
        await self._consumer.seek_to_beginning(self._partition)

    async def _disconnect(self) -> None:
        for client in (getattr(self, "_consumer", None), getattr(self, "_producer", None),
                       getattr(self, "_offsets", None)):
            if client is not None:
                await client.stop()

    async def _stop(self) -> None:
        self._tail.cancel()
        await asyncio.gather(self._tail, return_exceptions=True)
        await self._sender.close()
        await self._disconnect()

    # -- following the partition ---------------------------------------------------------
    async def _follow(self) -> None:
        pending: list[Any] = []
        while True:
            try:
                fetched = await self._consumer.getmany(self._partition, timeout_ms=1000)
            except KafkaError:
                await asyncio.sleep(0.2)  # the consumer reconnects by itself
                continue
            pending.extend(fetched.get(self._partition, []))
            pending = self._fold_complete(pending)
            async with self._advanced:
                self._advanced.notify_all()

    def _fold_complete(self, messages: list[Any]) -> list[Any]:
        """Fold every complete batch (records of one append); return the incomplete rest."""
        messages = [m for m in messages if m.offset + 1 >= self.replica.next_position]
        while messages:
            size = batch_size_of(messages[0])
            if len(messages) < size:
                return messages
            self.replica.fold([record_of(m) for m in messages[:size]])
            messages = messages[size:]
        return messages

    async def _end_offset(self, deadline: float) -> int:
        while True:
            try:
                ends = await self._offsets.end_offsets([self._partition])
                return int(ends[self._partition])
            except KafkaError:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(0.2)

    async def _catch_up(self, deadline: float) -> None:
        """Wait until the fold has reached the partition's current end."""
        end = await self._end_offset(deadline)
        await self._wait(lambda: self.replica.next_position > end, deadline)

    async def _wait(self, reached: Any, deadline: float) -> None:
        async with self._advanced:
            await asyncio.wait_for(self._advanced.wait_for(reached),
                                   max(0.0, deadline - time.monotonic()))

    async def _read(self, read: Any) -> Any:
        await self._catch_up(time.monotonic() + self.append_timeout_s)
        return read()

    # -- appending -----------------------------------------------------------------------
    async def _append(self, stream: str, events: list[Event]) -> list[Event]:
        lock = self._stream_locks.setdefault(stream, asyncio.Lock())
        async with lock:
            stored = self.replica.stored([e.event_id for e in events])
            if stored is not None:
                return stored
            fresh = [e for e in events if e.event_id not in self.replica.by_id]
            check_fence(self.replica.fences.get(stream, 0), fresh)  # early answer; the fold decides
            return await self._produce(stream, events)

    async def _produce(self, stream: str, events: list[Event]) -> list[Event]:
        batch_id = uuid.uuid4().hex
        deadline = time.monotonic() + self.append_timeout_s
        self.replica.watched.add(batch_id)
        try:
            await self._send(stream, events, batch_id, deadline)
            await self._wait(lambda: batch_id in self.replica.outcomes, deadline)
            outcome = self.replica.outcomes.pop(batch_id)
        finally:
            self.replica.watched.discard(batch_id)
        if outcome.fenced_by:
            raise Fenced(f"fenced off by generation {outcome.fenced_by} on stream {stream}")
        return [s.event() for s in outcome.stored]

    async def _send(self, stream: str, events: list[Event], batch_id: str,
                    deadline: float) -> None:
        """Send the append (the sender retries until the broker acknowledges it)."""
        tag = f"{batch_id}:{len(events)}"
        version = self.replica.version(stream)
        records = [(stream.encode(), encode(e.stamped(version + i)), headers_of(e, tag))
                   for i, e in enumerate(events, start=1)]
        offset = await self._sender.send(records, max(0.0, deadline - time.monotonic()))
        self._fold_own(offset, records)

    def _fold_own(self, base_offset: int, records: list[tuple[bytes, bytes, Any]]) -> None:
        """Fold our own batch at once when everything before it is folded already (the
        follower then skips it); otherwise the follower folds it when it gets there."""
        if self.replica.next_position != base_offset + 1:
            return
        self.replica.fold([record_of(_Sent(base_offset + i, *r)) for i, r in enumerate(records)])


@dataclass(frozen=True)
class _Sent:
    """A record we sent, shaped like a consumed message."""

    offset: int
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


async def ensure_topic(bootstrap: str, topic: str) -> None:
    """Create the events topic with cloudrec's settings (a no-op when it exists)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(
            topic, num_partitions=1, replication_factor=1, topic_configs=EVENTS_TOPIC_CONFIG)])
    finally:
        await admin.close()
    for name, code, *message in response.topic_errors:
        if code not in (0, TopicAlreadyExistsError.errno):
            raise for_code(code)(f"cannot create topic {name}: {message}")
