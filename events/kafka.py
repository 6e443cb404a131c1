"""Kafka event log: the `EventLog` port on Apache Kafka through aiokafka.

URL: `kafka://HOST:PORT[,HOST:PORT...][/TOPIC][?partitions=N]` (topic default `cloudrec.events`).

Layout. One events topic with N partitions (`?partitions=N` in the URL when cloudrec creates it,
default 24; an existing topic keeps its count), retention forever: the log is the truth. Each event
is a record keyed by its stream id (a recording's sid, or a channel's id) in the partition Kafka's
default partitioner gives that key (`log.partition_of`), so each stream stays in one partition, in
order. Bodies are JSON with the CloudEvents Kafka-binding headers, so plain consumers need nothing
from cloudrec. A position is `offset + 1` within its partition.

Contract. Kafka keeps what producers send; versions, idempotency and fencing are decided by a
deterministic fold of each partition (`replica.Replica`, one per partition), which a
`KafkaEventLog` keeps in memory for the partitions it appends to or reads, tailing each from its
beginning once it first serves or reads a stream of it. An append waits until
that fold has reached its own records (it folds them at once when the fold already stands at
them, and the follower then skips them), so it returns exactly what every reader will see, and
raises `Fenced` when the fold rejected it (even if a newer generation raced it from another
process). Reads first catch up to
the end offset of the partition they read, so they see every append to it that returned before.

Delivery. The producer is idempotent with `acks=all`; an append's records go out together in one
Kafka record batch (atomic), shared with the appends of other streams of that partition waiting
at that moment (`sender.BatchSender`, one batch per partition in each request). While the
broker is away an append blocks and is sent again (same event ids, so a copy that did land is
recognised, never stored twice) until `append_timeout_s`; appends of one stream from one process
are serialised, so they are never reordered.

Limits, honestly: a process holds an index of every partition it has served or read (fine for
days of recordings, not for years: a compacted snapshot topic would bound it, see the `heads`
branch), and receives every record of those partitions; a process serving a few streams follows
a few partitions, one that reads them all (a projection runner alone in its group) follows all.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from cloudrec.events.catalog import encode
from cloudrec.events.envelope import Event, cloud_event_headers
from cloudrec.events.log import Fenced, check_fence, partition_of, single_stream
from cloudrec.events.replica import Record, Replica
from cloudrec.events.sender import BatchSender

T = TypeVar("T")
DEFAULT_TOPIC = "cloudrec.events"
DEFAULT_PARTITIONS = 24  # a small fleet: a process serving a few streams follows a few of them
BATCH_HEADER = "cloudrec_batch"  # "<batch id>:<events in the batch>"
GENERATION_HEADER = "cloudrec_generation"
HEADER_ORDER = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type",
                BATCH_HEADER, GENERATION_HEADER)  # as headers_of writes them
EVENTS_TOPIC_CONFIG = {"cleanup.policy": "delete", "retention.ms": "-1",
                       "retention.bytes": "-1", "min.insync.replicas": "1"}


@dataclass(frozen=True)
class KafkaAddress:
    bootstrap: str
    topic: str = DEFAULT_TOPIC
    partitions: int = DEFAULT_PARTITIONS  # when cloudrec creates the topic

    @classmethod
    def parse(cls, url: str) -> KafkaAddress:
        rest, _, query = url.removeprefix("kafka://").partition("?")
        bootstrap, _, topic = rest.partition("/")
        if not bootstrap:
            raise ValueError(f"no bootstrap server in {url!r}:"
                             " use kafka://HOST:PORT[/TOPIC][?partitions=N]")
        options = dict(part.partition("=")[::2] for part in query.split("&") if part)
        unknown = set(options) - {"partitions"}
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)} in {url!r}: only partitions=N")
        partitions = int(options.get("partitions", DEFAULT_PARTITIONS))
        if partitions < 1:
            raise ValueError(f"partitions must be at least 1 in {url!r}")
        return cls(bootstrap, topic or DEFAULT_TOPIC, partitions)


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
    event_id, tag, generation = _fold_headers(message.headers)
    return Record(message.offset + 1, message.key.decode(), event_id.decode(),
                  int(generation), tag.decode().partition(":")[0], message.value)


def batch_size_of(message: Any) -> int:
    return int(_fold_headers(message.headers)[1].decode().partition(":")[2])


def _fold_headers(headers: Sequence[tuple[str, bytes]]) -> tuple[bytes, bytes, bytes]:
    """The event id, batch tag and generation of a record. Every record a process receives
    comes here: headers in the order cloudrec writes them are read by place, with no dict."""
    if len(headers) == len(HEADER_ORDER) and all(
            h[0] == name for h, name in zip(headers, HEADER_ORDER, strict=True)):
        return headers[1][1], headers[6][1], headers[7][1]
    named = dict(headers)
    return named["ce_id"], named[BATCH_HEADER], named[GENERATION_HEADER]


def headers_of(event: Event, batch: str) -> list[tuple[str, bytes]]:
    """The record's headers, in HEADER_ORDER."""
    return [*cloud_event_headers(event), (BATCH_HEADER, batch.encode()),
            (GENERATION_HEADER, str(event.generation).encode())]


class KafkaEventLog:
    def __init__(self, url: str, append_timeout_s: float = 300.0,
                 start_timeout_s: float = 120.0) -> None:
        self.address = KafkaAddress.parse(url)
        self.append_timeout_s = append_timeout_s
        self.replicas: list[Replica] = []
        self._loop = BackgroundLoop(f"kafka-log-{self.address.topic}")
        self._stream_locks: dict[str, asyncio.Lock] = {}
        self._closed = False
        try:
            self._loop.run(self._start(start_timeout_s), start_timeout_s + 30)
        except BaseException:
            self._loop.stop()
            raise

    @property
    def partitions(self) -> int:
        return len(self.replicas)

    # -- the port ------------------------------------------------------------------------
    def append(self, events: Sequence[Event]) -> list[Event]:
        if not events:
            return []
        stream = single_stream(events)
        return self._loop.run(self._append(stream, list(events)))

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[Event]:
        replica = self.replicas[self.partition_of(stream_id)]
        return self._loop.run(self._read([replica.partition], lambda: replica.read_stream(
            stream_id, after_version)))

    def read_all(self, after: int = 0, limit: int = 1000,
                 partition: int = 0) -> list[tuple[int, Event]]:
        return self.read_partitions({partition: after}, limit)[partition]

    def read_partitions(self, after: Mapping[int, int],
                        limit: int = 1000) -> dict[int, list[tuple[int, Event]]]:
        for partition in after:
            if not 0 <= partition < self.partitions:
                raise ValueError(f"topic {self.address.topic} has partitions 0-"
                                 f"{self.partitions - 1}, not {partition}")
        return self._loop.run(self._read(list(after), lambda: {
            p: self.replicas[p].read_all(position, limit) for p, position in after.items()}))

    def partition_of(self, stream_id: str) -> int:
        return partition_of(stream_id, self.partitions)

    def followed_partitions(self) -> set[int]:
        """The partitions this process folds (those of the streams it served or read)."""
        return set(self._followed)

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
        self._followed: set[int] = set()  # partitions taken up (folded from their start)
        self._taking_up: dict[int, asyncio.Future[None]] = {}  # their first catch-up, running
        self._sender = BatchSender(self._producer, self.address.topic)
        self._tail = asyncio.create_task(self._follow())

    async def _connect(self) -> None:
        count = await ensure_topic(self.address.bootstrap, self.address.topic,
                                   self.address.partitions)
        self.replicas = [Replica(p) for p in range(count)]
        self._partitions = [TopicPartition(self.address.topic, p) for p in range(count)]
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
        self._consumer.assign(self._partitions)
        self._consumer.pause(*self._partitions)  # each taken up when first served or read

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

    # -- following the partitions --------------------------------------------------------
    async def _follow(self) -> None:
        pending: dict[int, list[Any]] = {p: [] for p in range(self.partitions)}
        while True:
            try:
                fetched = await self._consumer.getmany(*self._partitions, timeout_ms=1000)
            except KafkaError:
                await asyncio.sleep(0.2)  # the consumer reconnects by itself
                continue
            for tp, messages in fetched.items():
                pending[tp.partition] = self._fold_complete(
                    self.replicas[tp.partition], pending[tp.partition] + messages)
            async with self._advanced:
                self._advanced.notify_all()

    @staticmethod
    def _fold_complete(replica: Replica, messages: list[Any]) -> list[Any]:
        """Fold every complete batch (records of one append); return the incomplete rest."""
        messages = [m for m in messages if m.offset + 1 >= replica.next_position]
        at = 0  # (an index: slicing the rest off after each batch was quadratic in a fetch)
        while at < len(messages):
            size = batch_size_of(messages[at])
            if len(messages) - at < size:
                break
            replica.fold([record_of(m) for m in messages[at : at + size]])
            at += size
        return messages[at:]

    async def _take_up(self, partitions: list[int], deadline: float) -> None:
        """Follow these partitions from their start if this process does not yet, and wait
        until their fold reaches their current end: a process folds only the partitions of
        the streams it appends to or reads, not the whole topic."""
        new = sorted(set(partitions) - self._followed)
        if new:  # (no await from the check to the catch-up's start: a later caller waits on it)
            tps = [self._partitions[p] for p in new]
            for tp in tps:
                self._consumer.seek(tp, self.replicas[tp.partition].next_position - 1)
            self._consumer.resume(*tps)
            self._followed.update(new)
            caught_up = asyncio.ensure_future(self._catch_up(tps, deadline))
            caught_up.add_done_callback(partial(self._taken_up, new))
            self._taking_up.update((p, caught_up) for p in new)
        waiting = {f for p in partitions if (f := self._taking_up.get(p)) is not None}
        if waiting:
            await asyncio.gather(*(asyncio.shield(f) for f in waiting))

    def _taken_up(self, partitions: list[int], _: asyncio.Future[None]) -> None:
        for partition in partitions:  # (if it failed: reads catch up anyway, appends are folded)
            self._taking_up.pop(partition, None)

    async def _end_offsets(self, partitions: list[TopicPartition],
                           deadline: float) -> dict[int, int]:
        while True:
            try:
                ends = await self._offsets.end_offsets(partitions)
                return {tp.partition: int(end) for tp, end in ends.items()}
            except KafkaError:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(0.2)

    async def _catch_up(self, partitions: list[TopicPartition], deadline: float) -> None:
        """Wait until the fold of each of these partitions has reached its current end."""
        ends = await self._end_offsets(partitions, deadline)
        await self._wait(lambda: all(self.replicas[p].next_position > end
                                     for p, end in ends.items()), deadline)

    async def _wait(self, reached: Any, deadline: float) -> None:
        async with self._advanced:
            await asyncio.wait_for(self._advanced.wait_for(reached),
                                   max(0.0, deadline - time.monotonic()))

    async def _read(self, partitions: list[int], read: Any) -> Any:
        """Catch up on these partitions (one end-offsets request for them all), then read."""
        deadline = time.monotonic() + self.append_timeout_s
        await self._take_up(partitions, deadline)
        await self._catch_up([self._partitions[p] for p in partitions], deadline)
        return read()

    # -- appending -----------------------------------------------------------------------
    async def _append(self, stream: str, events: list[Event]) -> list[Event]:
        replica = self.replicas[self.partition_of(stream)]
        await self._take_up([replica.partition], time.monotonic() + self.append_timeout_s)
        lock = self._stream_locks.setdefault(stream, asyncio.Lock())
        async with lock:
            stored = replica.stored([e.event_id for e in events])
            if stored is not None:
                return stored
            fresh = [e for e in events if e.event_id not in replica.by_id]
            check_fence(replica.fences.get(stream, 0), fresh)  # early answer; the fold decides
            return await self._produce(replica, stream, events)

    async def _produce(self, replica: Replica, stream: str, events: list[Event]) -> list[Event]:
        batch_id = uuid.uuid4().hex
        deadline = time.monotonic() + self.append_timeout_s
        replica.watched.add(batch_id)
        try:
            sent = await self._send(replica, stream, events, batch_id, deadline)
            await self._wait(lambda: batch_id in replica.outcomes, deadline)
            outcome = replica.outcomes.pop(batch_id)
        finally:
            replica.watched.discard(batch_id)
        if outcome.fenced_by:
            raise Fenced(f"fenced off by generation {outcome.fenced_by} on stream {stream}")
        # what we sent, where the fold stored it with the version we stamped (not decoded again)
        return [mine if stored.version == mine.version else stored.event()
                for mine, stored in zip(sent, outcome.stored, strict=True)]

    async def _send(self, replica: Replica, stream: str, events: list[Event], batch_id: str,
                    deadline: float) -> list[Event]:
        """Send the append (the sender retries until the broker acknowledges it); return the
        events as sent, stamped with the versions they take if nothing raced them."""
        tag = f"{batch_id}:{len(events)}"
        version = replica.version(stream)
        stamped = [e.stamped(version + i) for i, e in enumerate(events, start=1)]
        records = [(stream.encode(), encode(e), headers_of(e, tag)) for e in stamped]
        offset = await self._sender.send(records, replica.partition,
                                         max(0.0, deadline - time.monotonic()))
        if replica.next_position == offset + 1:
            # everything before our batch is folded: fold it at once (the follower skips it);
            # otherwise the follower folds it when it gets there
            replica.fold([Record(offset + i, stream, e.event_id, e.generation, batch_id, value)
                          for i, (e, (_, value, _)) in enumerate(zip(stamped, records,
                                                                     strict=True), start=1)])
            self._skip_own(replica.partition, offset, len(records))
        return stamped

    def _skip_own(self, partition: int, offset: int, count: int) -> None:
        """When the follower's next record is the first of a batch we just folded, move it past
        the batch: receiving our own records back cost a tenth of a busy writer's loop. A
        fetch in flight for the old position is dropped unread, and the next starts after our
        records. An unknown position (being reset) is not waited for: the append returns and
        the follower receives the batch."""
        tp = self._partitions[partition]
        if known_position(self._consumer, tp) == offset:
            self._consumer.seek(tp, offset + count)


def known_position(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
    """The consumer's position in `tp` when it knows it now, else None. aiokafka's `position`
    returns at once when the position is known and waits for a reset otherwise; it is run one
    step here, on the loop's thread, so that nothing else runs between reading the position
    and acting on it (an `await` let the follower receive the records first: 100 recordings
    went from 20,000-25,000 events/s to 15,000-17,000)."""
    step = consumer.position(tp)
    try:
        step.send(None)
    except StopIteration as done:
        return int(done.value)
    except KafkaError:
        return None
    step.close()  # it would have waited
    return None


async def ensure_topic(bootstrap: str, topic: str, partitions: int = DEFAULT_PARTITIONS) -> int:
    """Create the events topic with cloudrec's settings (a no-op when it exists); return its
    partition count (an existing topic keeps its own)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(
            topic, num_partitions=partitions, replication_factor=1,
            topic_configs=EVENTS_TOPIC_CONFIG)])
        for name, code, *message in response.topic_errors:
            if code not in (0, TopicAlreadyExistsError.errno):
                raise for_code(code)(f"cannot create topic {name}: {message}")
        return await partition_count(admin, topic)
    finally:
        await admin.close()


async def partition_count(admin: AIOKafkaAdminClient, topic: str) -> int:
    """How many partitions `topic` has (asked again briefly: a topic just created may not be
    in the broker's metadata yet)."""
    for _ in range(50):
        described = await admin.describe_topics([topic])
        partitions = described[0].get("partitions") if described else None
        if described and described[0].get("error_code", 0) == 0 and partitions:
            return len(partitions)
        await asyncio.sleep(0.1)
    raise KafkaError(f"topic {topic} has no partitions in the broker's metadata")
