"""Kafka event log: the `EventLog` port on Apache Kafka through aiokafka.

URL: `kafka://HOST:PORT[,HOST:PORT...][/TOPIC][?partitions=N]` (topic default `cloudrec.events`).

Layout. One events topic with N partitions (`?partitions=N` in the URL when cloudrec creates it,
default 6; an existing topic keeps its count), retention forever: the log is the truth. Each event
is a record keyed by its stream id (a recording's sid, or a channel's id) in the partition Kafka's
default partitioner gives that key (`log.partition_of`), so each stream stays in one partition, in
order. Bodies are JSON with the CloudEvents Kafka-binding headers, so plain consumers need nothing
from cloudrec. A position is `offset + 1` within its partition.

Contract. Kafka keeps what producers send; versions, idempotency and fencing are decided by a
deterministic fold of each stream's records in partition order (`replica.Head`). An append waits
until its own records come back through that fold, so it returns exactly what every reader will
see, and raises `Fenced` when the fold rejected it (even if a newer generation raced it from
another process). Reads first catch up to the end offset of the partitions they read, so they
see every append to them that returned before.

Memory. A process holds the heads of the streams it serves, not the topic: it follows only the
partitions it serves streams of or reads, each from its end when taken up (offset 0 no more), and
lets one go a minute after it holds nothing of it; it folds the streams it loaded and passes over
the rest, keeping a ring of recent records per partition for reads at the tail. A stream's head
(version, fence, positions of its events, its last 256 event ids) lives in the compacted topic
`<topic>.heads`: written before the stream's first append (so a stream without a head has no
records before the end offset read ahead of the lookup), by its appenders every 10 s after
they append, and on close. Loading a stream reads its newest head there and scans the events
partition only from that head's `next` onward (a writer killed before publishing costs its
successor a short scan, nothing else). Bodies are read from the broker (kept for the streams a
process reads or appends to, until it forgets them after a minute unused). A topic written
before heads existed is folded once, on the first open, and its heads written.

Delivery. The producer is idempotent with `acks=all`; an append's records go out together in one
Kafka record batch (atomic), shared with the appends of other streams of that partition waiting
at that moment (`sender.BatchSender`, one batch per partition in each request). While the
broker is away an append blocks and is sent again (same event ids, so a copy that did land is
recognised, never stored twice) until `append_timeout_s`; appends of one stream from one process
are serialised, so they are never reordered.

Limits, honestly: a head carries every position of its stream (8 bytes an event in memory, a
few in the heads topic), so one stream's head grows with that stream, not with the topic; a
lookup reads its heads partition from the start (compacted: one record per stream); a process
still receives every record of the partitions it follows (it decodes their headers), so its CPU
grows with the traffic of those partitions: more partitions, less of it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from cloudrec.events.catalog import decode, encode
from cloudrec.events.envelope import Event, cloud_event_headers
from cloudrec.events.log import Fenced, check_fence, partition_of, single_stream
from cloudrec.events.replica import Head, Record, Replica
from cloudrec.events.sender import BatchSender

T = TypeVar("T")
log = logging.getLogger(__name__)
DEFAULT_TOPIC = "cloudrec.events"
DEFAULT_PARTITIONS = 6  # a small fleet: up to 6 projection runners share the work
BATCH_HEADER = "cloudrec_batch"  # "<batch id>:<events in the batch>"
GENERATION_HEADER = "cloudrec_generation"
EVENTS_TOPIC_CONFIG = {"cleanup.policy": "delete", "retention.ms": "-1",
                       "retention.bytes": "-1", "min.insync.replicas": "1"}
HEADS_SUFFIX = ".heads"  # the compacted topic of stream heads, beside the events topic
HEADS_TOPIC_CONFIG = {"cleanup.policy": "compact", "segment.ms": "600000",
                      "min.cleanable.dirty.ratio": "0.1", "min.insync.replicas": "1"}
BUILT_KEY = b"\x00built"  # a heads partition's marker: every stream before it has a head
PUBLISH_EVERY_S = 10.0  # heads of the streams a process appended to, written this often
FORGET_AFTER_S = 60.0  # a stream unused this long is dropped from memory (its head is kept)
MAX_LOADED = 5000  # streams held at most; the least recently used go first
REFRESH_AFTER = 1000  # a load that scanned more records than this writes the heads it made


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
        self.heads_topic = self.address.topic + HEADS_SUFFIX
        self.append_timeout_s = append_timeout_s
        self.replicas: list[Replica] = []
        self._loop = BackgroundLoop(f"kafka-log-{self.address.topic}")
        self._stream_locks: dict[str, asyncio.Lock] = {}
        self._used: dict[str, float] = {}  # loaded stream -> when this process last used it
        self._dirty: set[str] = set()  # streams this process appended to since their last head
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
        return self._loop.run(self._read_stream(stream_id, after_version))

    def read_all(self, after: int = 0, limit: int = 1000,
                 partition: int = 0) -> list[tuple[int, Event]]:
        return self.read_partitions({partition: after}, limit)[partition]

    def read_partitions(self, after: Mapping[int, int],
                        limit: int = 1000) -> dict[int, list[tuple[int, Event]]]:
        for partition in after:
            if not 0 <= partition < self.partitions:
                raise ValueError(f"topic {self.address.topic} has partitions 0-"
                                 f"{self.partitions - 1}, not {partition}")
        return self._loop.run(self._read_partitions(dict(after), limit))

    def partition_of(self, stream_id: str) -> int:
        return partition_of(stream_id, self.partitions)

    def loaded_streams(self) -> int:
        """How many streams' heads this process holds (what its memory grows with)."""
        return sum(len(r.heads) for r in self.replicas)

    def followed_partitions(self) -> set[int]:
        """The partitions this process receives records of (those it serves or reads)."""
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
        """Connect, retrying while the broker is away (it may be restarting); build the heads
        of a topic that has none yet; then follow every partition from its end."""
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
        self._load_lock = asyncio.Lock()
        self._follow_lock = asyncio.Lock()
        self._reader_lock = asyncio.Lock()
        self._heads_lock = asyncio.Lock()
        self._sender = BatchSender(self._producer, self.address.topic)
        for partition in range(self.partitions):
            if not (await self._retrying(partial(self._lookup_heads, partition, set())))[1]:
                await self._build_heads(partition, deadline)
        self._heads_reader.unsubscribe()  # (drops what it fetched of the last heads partition)
        ends = await self._end_offsets(self._partitions, deadline)
        for tp in self._partitions:  # none followed until a stream of it is served or read
            self._consumer.seek(tp, ends[tp.partition])
        self._followed: dict[int, float] = {}  # partition -> when this process last used it
        self._pending: dict[int, list[Any]] = {p: [] for p in range(self.partitions)}
        self._tail = asyncio.create_task(self._follow())
        self._housekeeping = asyncio.create_task(self._keep_house())

    async def _connect(self) -> None:
        count = await ensure_topic(self.address.bootstrap, self.address.topic,
                                   self.address.partitions)
        await ensure_topic(self.address.bootstrap, self.heads_topic, count, HEADS_TOPIC_CONFIG)
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
        # Reads of older records (loads, bodies, reads behind the ring) and of the heads topic
        self._reader = AIOKafkaConsumer(bootstrap_servers=self.address.bootstrap,
                                        enable_auto_commit=False, fetch_max_wait_ms=5,
                                        auto_offset_reset="earliest")
        self._heads_reader = AIOKafkaConsumer(bootstrap_servers=self.address.bootstrap,
                                              enable_auto_commit=False, fetch_max_wait_ms=5,
                                              auto_offset_reset="earliest")
        for client in (self._producer, self._consumer, self._offsets, self._reader,
                       self._heads_reader):
            await client.start()
        self._consumer.assign(self._partitions)
        # paused at once: it would fetch from offset 0 (nothing followed yet) and hold it
        self._consumer.pause(*self._partitions)

    async def _disconnect(self) -> None:
        for name in ("_consumer", "_producer", "_offsets", "_reader", "_heads_reader"):
            client = getattr(self, name, None)
            if client is not None:
                await client.stop()

    async def _stop(self) -> None:
        for task in (self._tail, self._housekeeping):
            task.cancel()
        await asyncio.gather(self._tail, self._housekeeping, return_exceptions=True)
        try:
            await asyncio.wait_for(self._publish(self._dirty), 10)  # a clean close leaves heads
        except (KafkaError, TimeoutError):
            pass  # a later loader scans from the older head instead
        await self._sender.close()
        await self._disconnect()

    # -- following the partitions --------------------------------------------------------
    async def _follow(self) -> None:
        """Fold what the followed partitions receive (the others are paused)."""
        while True:
            try:
                fetched = await self._consumer.getmany(*self._partitions, timeout_ms=1000)
            except KafkaError:
                await asyncio.sleep(0.2)  # the consumer reconnects by itself
                continue
            for tp, messages in fetched.items():
                if tp.partition in self._followed:
                    self._pending[tp.partition] = self._fold_complete(
                        self.replicas[tp.partition], self._pending[tp.partition] + messages)
            async with self._advanced:
                self._advanced.notify_all()

    @staticmethod
    def _fold_complete(replica: Replica, messages: list[Any]) -> list[Any]:
        """Fold every complete batch (records of one append); return the incomplete rest."""
        messages = [m for m in messages if m.offset + 1 >= replica.next_position]
        while messages:
            size = batch_size_of(messages[0])
            if len(messages) < size:
                return messages
            replica.fold([record_of(m) for m in messages[:size]])
            messages = messages[size:]
        return messages

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

    async def _follow_partitions(self, partitions: list[int], deadline: float) -> None:
        """Follow these partitions from now on: a process receives the records of the
        partitions it serves streams of or reads, not the topic's. A partition taken up again
        is followed from its end (its heads were dropped when it was let go)."""
        now = time.monotonic()
        for partition in partitions:
            if partition in self._followed:
                self._followed[partition] = now
        if all(p in self._followed for p in partitions):
            return
        async with self._follow_lock:  # (two callers must not seek one partition twice)
            new = [p for p in partitions if p not in self._followed]
            if not new:
                return
            ends = await self._end_offsets([self._partitions[p] for p in new], deadline)
            for partition in new:
                tp = self._partitions[partition]
                self._consumer.seek(tp, ends[partition])
                self.replicas[partition].start_at(ends[partition] + 1)
                self._pending[partition] = []
                self._consumer.resume(tp)
                self._followed[partition] = time.monotonic()

    def _let_go(self) -> None:
        """Stop following the partitions this process has not used for a while and holds no
        stream of (nothing loading, no append waiting)."""
        now = time.monotonic()
        for partition, used in list(self._followed.items()):
            replica = self.replicas[partition]
            if now - used >= FORGET_AFTER_S and not (replica.heads or replica.loading
                                                     or replica.watched):
                self._consumer.pause(self._partitions[partition])
                del self._followed[partition]
                replica.start_at(1)  # nothing held: a later follow starts at the end

    async def _catch_up(self, partitions: list[int], deadline: float) -> None:
        """Wait until the fold of each of these partitions has reached its current end (one
        end-offsets request for them all)."""
        await self._follow_partitions(partitions, deadline)
        ends = await self._end_offsets([self._partitions[p] for p in partitions], deadline)
        await self._wait(lambda: all(self.replicas[p].next_position > end
                                     for p, end in ends.items()), deadline)

    async def _wait(self, reached: Any, deadline: float) -> None:
        async with self._advanced:
            await asyncio.wait_for(self._advanced.wait_for(reached),
                                   max(0.0, deadline - time.monotonic()))

    def _deadline(self) -> float:
        return time.monotonic() + self.append_timeout_s

    # -- reading -------------------------------------------------------------------------
    async def _read_stream(self, stream: str, after_version: int) -> list[Event]:
        partition = self.partition_of(stream)
        await self._catch_up([partition], self._deadline())
        head = await self._head(partition, stream, bodies=True)
        versions = range(after_version + 1, head.version + 1)
        bodies = head.bodies if head.bodies is not None else {}
        missing = {head.positions[v - 1]: v for v in versions if v not in bodies}
        if missing:
            for position, body in (await self._bodies(partition, sorted(missing))).items():
                bodies[missing[position]] = body
        return [decode(bodies[v]).stamped(v) for v in versions]

    async def _read_partitions(self, after: dict[int, int],
                               limit: int) -> dict[int, list[tuple[int, Event]]]:
        await self._catch_up(list(after), self._deadline())
        return {p: await self._read_all(p, position, limit) for p, position in after.items()}

    async def _read_all(self, partition: int, after: int,
                        limit: int) -> list[tuple[int, Event]]:
        """Up to `limit` stored events after `after`: records from the ring (or the broker,
        behind it), each kept when its stream's head stored it."""
        replica = self.replicas[partition]
        out: list[tuple[int, Event]] = []
        end, position = replica.next_position, after + 1
        while len(out) < limit and position < end:
            records = replica.ring_from(position)
            if records is None:
                records = await self._chunk(partition, position, end)
            records = [r for r in records if r.position < end][: limit - len(out)]
            if not records:
                break
            streams = {r.stream_id for r in records}
            self._touch(streams)  # (not forgotten while the others load)
            await self._load(partition, streams - replica.heads.keys())
            out += replica.stored(records)
            position = records[-1].position + 1
        return out[:limit]

    async def _chunk(self, partition: int, start: int, stop: int) -> list[Record]:
        """Records of one partition from position `start` (one fetch, below `stop`)."""
        tp = self._partitions[partition]
        deadline = self._deadline()
        async with self._reader_lock:
            if self._reader.assignment() != {tp}:
                self._reader.assign([tp])
            self._reader.seek(tp, start - 1)
            while True:
                try:
                    fetched = await self._reader.getmany(tp, timeout_ms=1000)
                except KafkaError:
                    fetched = {}
                messages = [m for m in fetched.get(tp, []) if start <= m.offset + 1 < stop]
                if messages or time.monotonic() >= deadline:
                    return [record_of(m) for m in messages]

    async def _scan(self, partition: int, start: int, stop: int) -> list[list[Record]]:
        """Every batch of positions [start, stop) of a partition, from the ring of recent
        records when it still holds `start`, else read from the broker."""
        batches: list[list[Record]] = []
        while start < stop:
            records = [r for r in self.replicas[partition].ring_from(start) or []
                       if r.position < stop]
            if not records:  # behind the ring (or beyond what this process folded)
                records = await self._chunk(partition, start, stop)
            if not records:
                raise KafkaError(f"no records at {start} of partition {partition}")
            for record in records:
                if batches and batches[-1][0].batch_id == record.batch_id:
                    batches[-1].append(record)
                else:
                    batches.append([record])
            start = records[-1].position + 1
        return batches

    async def _bodies(self, partition: int, positions: list[int]) -> dict[int, bytes]:
        """The bodies of the records at these positions (sorted), read from the broker."""
        found: dict[int, bytes] = {}
        wanted = set(positions)
        for position in positions:
            if position in found:
                continue
            for record in await self._chunk(partition, position, positions[-1] + 1):
                if record.position in wanted:
                    found[record.position] = record.body
        return found

    # -- heads ---------------------------------------------------------------------------
    async def _head(self, partition: int, stream: str, bodies: bool = False) -> Head:
        self._touch([stream])
        await self._load(partition, {stream}, bodies)
        head = self.replicas[partition].heads[stream]
        if bodies and head.bodies is None:
            head.bodies = {}
        return head

    def _touch(self, streams: Any) -> None:
        now = time.monotonic()
        for stream in streams:
            self._used[stream] = now

    async def _load(self, partition: int, streams: set[str], bodies: bool = False) -> None:
        """Load the heads of these streams: the newest in the heads topic (or a new one),
        advanced over the stream's batches the heads topic has not seen."""
        replica = self.replicas[partition]
        if not streams - replica.heads.keys():
            self._followed[partition] = time.monotonic()
            return
        await self._follow_partitions([partition], self._deadline())
        async with self._load_lock:
            wanted = {s for s in streams if s not in replica.heads}
            if not wanted:
                return
            hold = replica.begin_loading(wanted)  # the follower holds their batches from here
            try:
                # the end before the lookup: a stream with no head has no records before it
                # (a head is written before a stream's first append)
                end = (await self._end_offsets([self._partitions[partition]],
                                               self._deadline()))[partition]
                heads, _ = await self._retrying(lambda: self._lookup_heads(partition, wanted))
                new = [Head(s, next=end + 1) for s in sorted(wanted - heads.keys())]
                if new:
                    await self._retrying(lambda: self._write_heads(
                        partition, [(h, h.next) for h in new]))
                heads.update((h.stream, h) for h in new)
                start = min(h.next for h in heads.values())
                scanned: dict[str, list[list[Record]]] = {s: [] for s in heads}
                for batch in await self._scan(partition, start, hold) if start < hold else []:
                    if batch[0].stream_id in scanned:
                        scanned[batch[0].stream_id].append(batch)
                for stream, head in heads.items():
                    head.bodies = {} if bodies else None
                    replica.finish_loading(head, scanned[stream])
                self._touch(heads)
                if hold - start > REFRESH_AFTER:  # a long scan: the next loader starts here
                    try:
                        await self._publish(heads)
                    except KafkaError:
                        log.warning("cannot publish the heads a long scan made", exc_info=True)
            except BaseException:
                replica.abandon_loading(wanted)
                raise

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """`attempt()` again while the broker is away, until the append timeout."""
        deadline = self._deadline()
        while True:
            try:
                return await attempt()
            except KafkaError:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(0.5)

    async def _lookup_heads(self, partition: int,
                            streams: set[str]) -> tuple[dict[str, Head], bool]:
        """The newest head of each of these streams in the heads topic, and whether the
        partition's heads were built (read to the end of its heads partition)."""
        tp = TopicPartition(self.heads_topic, partition)
        found: dict[str, Head] = {}
        built = False
        async with self._heads_lock:
            end = (await self._heads_reader.end_offsets([tp]))[tp]
            begin = (await self._heads_reader.beginning_offsets([tp]))[tp]
            if self._heads_reader.assignment() != {tp}:
                self._heads_reader.assign([tp])
            self._heads_reader.seek(tp, begin)  # (seek_to_beginning waited ~90 ms more)
            deadline = self._deadline()
            while await self._heads_reader.position(tp) < end:
                if time.monotonic() >= deadline:
                    raise KafkaError(f"cannot read {self.heads_topic} partition {partition}")
                fetched = await self._heads_reader.getmany(tp, timeout_ms=1000)
                for message in fetched.get(tp, []):
                    if message.key == BUILT_KEY:
                        built = True
                        continue
                    stream = message.key.decode()
                    if stream in streams and message.value is not None:
                        head = Head.decode(stream, message.value)
                        if stream not in found or head.next > found[stream].next:
                            found[stream] = head
        return found, built

    async def _write_heads(self, partition: int, heads: list[tuple[Head, int]]) -> None:
        sent = [await self._producer.send(self.heads_topic, head.encode(next_position),
                                          key=head.stream.encode(), partition=partition)
                for head, next_position in heads]
        await asyncio.gather(*sent)

    async def _publish(self, streams: Any) -> None:
        """Write the heads of these loaded streams, valid up to where this process folded."""
        by_partition: dict[int, list[tuple[Head, int]]] = {}
        for stream in list(streams):
            replica = self.replicas[self.partition_of(stream)]
            head = replica.heads.get(stream)
            if head is not None:
                by_partition.setdefault(replica.partition, []).append(
                    (head, replica.next_position))
            self._dirty.discard(stream)
        for partition, heads in by_partition.items():
            await self._write_heads(partition, heads)

    async def _build_heads(self, partition: int, deadline: float) -> None:
        """A topic written before heads existed (or by plain producers): fold the partition
        once from its start and write every stream's head, then the partition's marker."""
        end = (await self._end_offsets([self._partitions[partition]], deadline))[partition]
        heads: dict[str, Head] = {}
        for batch in await self._scan(partition, 1, end + 1):
            stream = batch[0].stream_id
            heads.setdefault(stream, Head(stream)).fold(batch)
        await self._write_heads(partition, [(h, end + 1) for h in heads.values()])
        await (await self._producer.send(self.heads_topic, b"{}", key=BUILT_KEY,
                                          partition=partition))

    async def _keep_house(self) -> None:
        """Publish the heads of the streams this process appended to, and forget the streams
        it has not used for a while (their heads are in the heads topic)."""
        while True:
            await asyncio.sleep(PUBLISH_EVERY_S)
            try:
                await self._publish(self._dirty)
                await self._forget()
                self._let_go()
            except KafkaError:
                log.warning("cannot publish stream heads yet", exc_info=True)

    async def _forget(self) -> None:
        now = time.monotonic()
        idle = sorted((used, stream) for stream, used in self._used.items())
        over = max(0, len(idle) - MAX_LOADED)
        for index, (used, stream) in enumerate(idle):
            if index >= over and now - used < FORGET_AFTER_S:
                break
            lock = self._stream_locks.get(stream)
            if lock is not None and lock.locked():
                continue
            if stream in self._dirty:
                await self._publish([stream])
                lock = self._stream_locks.get(stream)
                if (lock is not None and lock.locked()) or self._used.get(stream, now) > used:
                    continue  # taken up again while its head was written: an append waits
            self.replicas[self.partition_of(stream)].heads.pop(stream, None)
            self._used.pop(stream, None)
            self._stream_locks.pop(stream, None)

    # -- appending -----------------------------------------------------------------------
    async def _append(self, stream: str, events: list[Event]) -> list[Event]:
        partition = self.partition_of(stream)
        lock = self._stream_locks.setdefault(stream, asyncio.Lock())
        async with lock:
            head = await self._head(partition, stream, bodies=True)
            versions = head.stored([e.event_id for e in events])
            if versions is not None:
                return [e.stamped(v) for e, v in zip(events, versions, strict=True)]
            check_fence(head.fence, [e for e in events if e.event_id not in head.ids])
            stored = await self._produce(self.replicas[partition], head, events)
            self._dirty.add(stream)
            return stored

    async def _produce(self, replica: Replica, head: Head, events: list[Event]) -> list[Event]:
        batch_id = uuid.uuid4().hex
        deadline = self._deadline()
        replica.watched.add(batch_id)
        try:
            sent = await self._send(replica, head, events, batch_id, deadline)
            await self._wait(lambda: batch_id in replica.outcomes, deadline)
            outcome = replica.outcomes.pop(batch_id)
        finally:
            replica.watched.discard(batch_id)
        if outcome.fenced_by:
            raise Fenced(f"fenced off by generation {outcome.fenced_by} on stream {head.stream}")
        # what we sent, where the fold stored it with the version we stamped (not decoded again)
        return [mine if stored.version == mine.version else stored.event()
                for mine, stored in zip(sent, outcome.stored, strict=True)]

    async def _send(self, replica: Replica, head: Head, events: list[Event], batch_id: str,
                    deadline: float) -> list[Event]:
        """Send the append (the sender retries until the broker acknowledges it); return the
        events as sent, stamped with the versions they take if nothing raced them."""
        tag = f"{batch_id}:{len(events)}"
        stamped = [e.stamped(head.version + i) for i, e in enumerate(events, start=1)]
        records = [(head.stream.encode(), encode(e), headers_of(e, tag)) for e in stamped]
        offset = await self._sender.send(records, replica.partition,
                                         max(0.0, deadline - time.monotonic()))
        self._fold_own(replica, offset, records)
        return stamped

    @staticmethod
    def _fold_own(replica: Replica, base_offset: int,
                  records: list[tuple[bytes, bytes, Any]]) -> None:
        """Fold our own batch at once when everything before it is folded already (the
        follower then skips it); otherwise the follower folds it when it gets there."""
        if replica.next_position != base_offset + 1:
            return
        replica.fold([record_of(_Sent(base_offset + i, *r)) for i, r in enumerate(records)])


@dataclass(frozen=True)
class _Sent:
    """A record we sent, shaped like a consumed message."""

    offset: int
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


async def ensure_topic(bootstrap: str, topic: str, partitions: int = DEFAULT_PARTITIONS,
                       config: dict[str, str] | None = None) -> int:
    """Create the topic with cloudrec's settings (the events topic's by default; a no-op when
    it exists); return its partition count (an existing topic keeps its own)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(
            topic, num_partitions=partitions, replication_factor=1,
            topic_configs=EVENTS_TOPIC_CONFIG if config is None else config)])
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
