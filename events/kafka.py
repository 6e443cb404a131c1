"""Kafka event log: the `EventLog` port on Apache Kafka through aiokafka.

URL: `kafka://HOST:PORT[,HOST:PORT...][/TOPIC][?partitions=N][&read_ids=M]` (topic default
`cloudrec.events`; `read_ids`: `KafkaEventLog.max_read_ids` for this process's client).

Layout. One events topic with N partitions (`?partitions=N` in the URL when cloudrec creates it,
default 24; an existing topic keeps its count), retention forever: the log is the truth. Each event
is a record keyed by its stream id (a recording's sid, or a channel's id) in the partition Kafka's
default partitioner gives that key (`log.partition_of`), so each stream stays in one partition, in
order. Bodies are JSON with the CloudEvents Kafka-binding headers, so plain consumers need nothing
from cloudrec. A position is `offset + 1` within its partition.

Contract. Kafka keeps what producers send; versions, idempotency and fencing are decided by a
deterministic fold of each stream's records (`replica`), which depends on that stream's records
only. A `KafkaEventLog` folds the streams it appends to or reads, each from its start, and the
partitions it reads whole (`read_all`), each as every stream's head without bodies plus its
recent tail. An append waits until the fold has reached its own records (it folds them at once
when the fold already stands at them, and the follower then skips them), so it returns exactly
what every reader will see, and raises `Fenced` when the fold rejected it (even if a newer
generation raced it from another process). Reads first catch up to the end offset of the
partition they read, so they see every append to it that returned before.

Heads. Where each stream starts is kept in a compacted topic, `<topic>.heads` (as many
partitions; a stream's head in its partition, keyed by its id): before a stream's first record
its appender writes `{"start": P}`, P at or before that record. A process taking up a stream
reads the partition's end, then the heads partition: the stream's latest head, or none, which
means the stream has no record yet (any record is preceded by an acknowledged head), so it
starts at that end. Every `SNAPSHOT_EVERY` new events an appender also writes a snapshot of
the stream's head, `{"start": P, "at": Q, "head": {version, fence, ids}}`: the head after
every record of the stream before Q, as every process folds it (so does a take-up that
folded more than `SNAPSHOT_SPAN` records: a stream quiet for long is not folded from far
back twice). A take-up folds from the latest snapshot's Q (or from the start), the
follower moved back if it stood later, skipping other streams' records; it holds the
stream's events after the snapshot, and those before are read again from the broker (from
the start) only when asked for. A heads partition without its `filled` mark (a topic
written before heads existed, or by a plain producer) is filled by the first lookup, from one
pass over the events partition. A process reading partitions whole holds the heads of the
streams it folded last, `max_read_ids` ids in all (more while more streams are active: only a
stream quiet for `replica.IDLE_SPAN` records is dropped): one it drops is first written under
`reader_name(stream)` (with the reader's token and position); when the stream writes again
the reader stops there and finds its head again (its own snapshot; or, overwritten by another
reader's, the latest snapshot before that record folded on to it). So a process's memory grows
with the streams it serves (a head of at most `replica.WINDOW` ids each, and their events up
to `max_history_bytes` in all) and those active lately in the partitions it reads, not with
the history nor with every stream ever written; the time to take a stream up grows with the
partition's records since its latest snapshot.

Delivery. The producer is idempotent with `acks=all`; an append's records go out together in one
Kafka record batch (atomic), shared with the appends of other streams of that partition waiting
at that moment (`sender.BatchSender`, one batch per partition in each request). While the
broker is away an append blocks and is sent again (same event ids, so a copy that did land is
recognised, never stored twice) until `append_timeout_s`; appends of one stream from one process
are serialised, so they are never reordered.

Limits, honestly: a process folds the streams it served last (`max_served`) and holds their
events up to `max_history_bytes` (`read_stream` answers from memory; a stream whose events
were dropped reads its partition again from the stream's start); a stream whose appenders
all wrote outside cloudrec after its heads partition was filled is not seen by a fold that
starts at its head; a lookup reads a whole heads partition (compacted: about two records per
stream ever written there); an event id appended again after more than `replica.WINDOW` newer
events of its stream is a new event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Coroutine, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from cloudrec.events.catalog import encode
from cloudrec.events.envelope import Event, cloud_event_headers
from cloudrec.events.log import Fenced, check_fence, partition_of, single_stream
from cloudrec.events.replica import HEAD_COST, Head, Partition, PartitionFold, Record, StreamFold
from cloudrec.events.sender import BatchSender

T = TypeVar("T")
log = logging.getLogger(__name__)
DEFAULT_TOPIC = "cloudrec.events"
DEFAULT_PARTITIONS = 24  # a small fleet: a process serving a few streams follows a few of them
BATCH_HEADER = "cloudrec_batch"  # "<batch id>:<events in the batch>"
GENERATION_HEADER = "cloudrec_generation"
HEADER_ORDER = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type",
                BATCH_HEADER, GENERATION_HEADER)  # as headers_of writes them
EVENTS_TOPIC_CONFIG = {"cleanup.policy": "delete", "retention.ms": "-1",
                       "retention.bytes": "-1", "min.insync.replicas": "1"}
HEADS_TOPIC_CONFIG = {"cleanup.policy": "compact", "segment.ms": "60000",
                      "segment.bytes": str(8 << 20), "min.cleanable.dirty.ratio": "0.1",
                      "min.insync.replicas": "1"}  # compacted soon: a lookup reads it whole
FILLED_KEY = b"\x00filled"  # in each heads partition: every stream written before has its head
SNAPSHOT_EVERY = 128  # a served stream's head is snapshotted after this many new events of it,
SNAPSHOT_SPAN = 20_000  # and when taking it up folded this many records of its partition


@dataclass(frozen=True)
class KafkaAddress:
    bootstrap: str
    topic: str = DEFAULT_TOPIC
    partitions: int = DEFAULT_PARTITIONS  # when cloudrec creates the topic
    read_ids: int | None = None  # the heads' ids its whole-partition readers hold, if not 512k

    @classmethod
    def parse(cls, url: str) -> KafkaAddress:
        rest, _, query = url.removeprefix("kafka://").partition("?")
        bootstrap, _, topic = rest.partition("/")
        if not bootstrap:
            raise ValueError(f"no bootstrap server in {url!r}:"
                             " use kafka://HOST:PORT[/TOPIC][?partitions=N]")
        options = dict(part.partition("=")[::2] for part in query.split("&") if part)
        unknown = set(options) - {"partitions", "read_ids"}
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)} in {url!r}:"
                             " only partitions=N and read_ids=M")
        try:
            partitions = int(options.get("partitions", DEFAULT_PARTITIONS))
            read_ids = int(options["read_ids"]) if "read_ids" in options else None
        except ValueError:
            raise ValueError(f"partitions and read_ids are whole numbers in {url!r}") from None
        if partitions < 1:
            raise ValueError(f"partitions must be at least 1 in {url!r}")
        if read_ids is not None and read_ids < 1000:
            raise ValueError(f"read_ids must be at least 1000 in {url!r}")
        return cls(bootstrap, topic or DEFAULT_TOPIC, partitions, read_ids)


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
    max_served = 2000  # streams folded; the least recently used goes first
    max_history_bytes = 32 << 20  # their events held; the least recently used are read again
    max_read_ids = 512_000  # heads' ids held by the readers of whole partitions (~85 MB at
    # 164 bytes an id: ~1,900 streams at a full window), of streams quiet for
    # `replica.IDLE_SPAN` records: heads of streams active since are held beyond it

    def __init__(self, url: str, append_timeout_s: float = 300.0,
                 start_timeout_s: float = 120.0) -> None:
        self.address = KafkaAddress.parse(url)
        if self.address.read_ids is not None:
            self.max_read_ids = self.address.read_ids
        self.append_timeout_s = append_timeout_s
        self._served: dict[str, None] = {}  # served streams, least recently used first
        self.parts: list[Partition] = []
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
        return len(self.parts)

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

    def followed_partitions(self) -> set[int]:
        """The partitions this process follows (those of the streams it served or read)."""
        return set(self._followed)

    def served_streams(self) -> set[str]:
        """The streams this process folds with their events (those it appended to or read)."""
        return {stream for part in self.parts for stream in part.streams}

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
        self._followed: set[int] = set()  # partitions the follower fetches
        self._taking_up: dict[str, asyncio.Future[None]] = {}  # take-ups running, by stream
        self._scan_lock = asyncio.Lock()  # the scanner reads one thing at a time
        self._cursors: dict[tuple[int, int], PartitionFold] = {}  # old reads, to continue
        self._lookups: dict[int, dict[str, list[asyncio.Future[HeadRecord | None]]]] = {}
        self._looking_up: asyncio.Future[None] | None = None  # the pass answering them
        self._sender = BatchSender(self._producer, self.address.topic)
        self._snapshots: set[asyncio.Task[None]] = set()  # snapshots being written
        self._recovering: dict[int, asyncio.Task[None]] = {}  # readers' heads being found
        self._tail = asyncio.create_task(self._follow())

    async def _connect(self) -> None:
        count = await ensure_topic(self.address.bootstrap, self.address.topic,
                                   self.address.partitions)
        self.heads_topic = heads_topic_of(self.address.topic)
        self.parts = [Partition(p) for p in range(count)]
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
        # Reads of a bounded range (a heads partition, the old part of an events partition)
        self._scanner = AIOKafkaConsumer(bootstrap_servers=self.address.bootstrap,
                                         enable_auto_commit=False, fetch_max_wait_ms=50,
                                         auto_offset_reset="earliest")
        for client in (self._producer, self._consumer, self._offsets, self._scanner):
            await client.start()
        self._consumer.assign(self._partitions)
        self._consumer.pause(*self._partitions)  # each taken up when first served or read
        # the scanner is assigned once, everything paused (a new assignment, or none, made it
        # fetch metadata again: of every topic of the broker, for none)
        self._scanned = [*self._partitions,
                         *(TopicPartition(self.heads_topic, p) for p in range(count))]
        self._scanner.assign(self._scanned)
        self._scanner.pause(*self._scanned)

    async def _disconnect(self) -> None:
        for name in ("_consumer", "_producer", "_offsets", "_scanner"):
            client = getattr(self, name, None)
            if client is not None:
                await client.stop()

    async def _stop(self) -> None:
        self._tail.cancel()
        tasks = [*self._snapshots, *self._recovering.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(self._tail, *tasks, return_exceptions=True)
        await self._sender.close()
        await self._disconnect()

    # -- following the partitions --------------------------------------------------------
    async def _follow(self) -> None:
        while True:
            try:
                fetched = await self._consumer.getmany(*self._partitions, timeout_ms=1000)
            except KafkaError:
                await asyncio.sleep(0.2)  # the consumer reconnects by itself
                continue
            for tp, messages in fetched.items():
                part = self.parts[tp.partition]
                batches, part.pending = complete_batches(part.pending + messages,
                                                         part.next_position)
                for batch in batches:
                    part.fold(batch)
            for part in self.parts:  # (an append folds its own batch too)
                if part.reader is not None:
                    self._service(part.partition, part.reader)
                    self._recover(part)
            async with self._advanced:
                self._advanced.notify_all()

    def _follow_from(self, part: Partition, position: int) -> None:
        """Make the follower fold `part` from `position` on (it never skips a record: it is
        moved back when it stands later, started there when it does not follow `part` yet)."""
        tp = self._partitions[part.partition]
        if part.partition not in self._followed:
            part.next_position, part.pending = position, []
            self._consumer.seek(tp, position - 1)
            self._consumer.resume(tp)
            self._followed.add(part.partition)
        elif part.next_position > position:
            part.rewind(position)
            self._consumer.seek(tp, position - 1)

    async def _once(self, stream: str, take_up: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `take_up` of `stream` once for callers that need it at the same time; each
        waits for it."""
        running = self._taking_up.get(stream)
        if running is None:
            running = self._taking_up[stream] = asyncio.ensure_future(take_up())
            running.add_done_callback(lambda _: self._taking_up.pop(stream, None))
        await asyncio.shield(running)

    async def _serve(self, stream: str, deadline: float) -> StreamFold:
        """This process's fold of `stream`, taken up when it first appends to or reads it."""
        part = self.parts[self.partition_of(stream)]
        if stream not in part.streams or stream in self._taking_up:
            await self._once(stream, partial(self._take_up_stream, part, stream, deadline))
        self._served.pop(stream, None)
        self._served[stream] = None
        if len(self._served) > self.max_served:
            self._forget(next(iter(self._served)))
        if sum(p.kept for p in self.parts) > self.max_history_bytes:
            self._drop_histories(stream)
        return part.streams[stream]

    def _drop_histories(self, serving: str) -> None:
        """Stop holding the events of the least recently served streams (not `serving`) until
        the histories held fit in half of `max_history_bytes`; read again when asked for."""
        held = sum(p.kept for p in self.parts)
        for stream in self._served:
            if held <= self.max_history_bytes // 2:
                return
            part = self.parts[self.partition_of(stream)]
            fold = part.streams.get(stream)
            if stream != serving and fold is not None and fold.bytes:
                freed = fold.drop_history()
                part.kept -= freed
                held -= freed

    def _forget(self, stream: str) -> None:
        """Stop folding `stream` (taken up again from its head when next served), unless an
        append or take-up of it is under way."""
        lock = self._stream_locks.get(stream)
        if (lock is not None and lock.locked()) or stream in self._taking_up:
            return
        self._served.pop(stream, None)
        self._stream_locks.pop(stream, None)
        part = self.parts[self.partition_of(stream)]
        fold = part.streams.pop(stream, None)
        if fold is not None:
            part.kept -= fold.bytes

    async def _take_up_stream(self, part: Partition, stream: str, deadline: float) -> None:
        """Fold `stream` from its latest snapshot, or its start, as the heads topic gives them
        (or from the partition's end when it names none: the stream has no record yet), up to
        the partition's end."""
        if stream in part.streams:
            return
        end = await self._end_offset(part.partition, deadline)  # before the lookup: see heads
        head = await self._lookup_head(part.partition, stream, deadline)
        if head is None:
            fold = StreamFold(end + 1, head_written=False)
        elif head.head is None:
            fold = StreamFold(head.start, head_written=True)
        else:
            fold = StreamFold.resume(head.start, head.at, head.head)
        part.streams[stream] = fold
        self._follow_from(part, fold.next)
        await self._wait(lambda: part.next_position > end, deadline)
        if fold.version and part.next_position - fold.snapshot_at >= SNAPSHOT_SPAN:
            self._snapshot(part, stream, fold)  # (a stream quiet for long: the next take-up
            # of it, in this process or another, folds from here)

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

    async def _end_offset(self, partition: int, deadline: float, topic: str = "") -> int:
        tp = TopicPartition(topic or self.address.topic, partition)
        return (await self._end_offsets([tp], deadline))[partition]

    async def _catch_up(self, partitions: list[int], deadline: float) -> None:
        """Wait until the fold of each of these partitions has reached its current end."""
        ends = await self._end_offsets([self._partitions[p] for p in partitions], deadline)
        await self._wait(lambda: all(self.parts[p].folded_past(end)
                                     for p, end in ends.items()), deadline)

    async def _wait(self, reached: Any, deadline: float) -> None:
        async with self._advanced:
            await asyncio.wait_for(self._advanced.wait_for(reached),
                                   max(0.0, deadline - time.monotonic()))

    # -- reading -------------------------------------------------------------------------
    async def _read_stream(self, stream: str, after_version: int) -> list[Event]:
        deadline = time.monotonic() + self.append_timeout_s
        part = self.parts[self.partition_of(stream)]
        while True:
            fold = await self._serve(stream, deadline)
            await self._catch_up([part.partition], deadline)
            if after_version < fold.base:
                await self._read_history(part, stream, fold, deadline)
            if part.streams.get(stream) is fold and after_version >= fold.base:
                return fold.read(after_version)  # (not forgotten, nor dropped, meanwhile)

    async def _read_partitions(self, after: dict[int, int],
                               limit: int) -> dict[int, list[tuple[int, Event]]]:
        """Fold each of these partitions whole (every stream's head) from its start if this
        process does not yet, catch up on them (one end-offsets request for them all), then
        read the tail each keeps; what is older than that is read again from the broker."""
        deadline = time.monotonic() + self.append_timeout_s
        for partition in after:
            part = self.parts[partition]
            if part.reader is None:
                part.reader = PartitionFold()
                self._follow_from(part, 1)
        for part in self.parts:
            if part.reader is not None:
                part.reader.max_ids = self._reader_ids()
        await self._catch_up(list(after), deadline)
        read: dict[int, list[tuple[int, Event]]] = {}
        for partition, position in after.items():
            reader = self.parts[partition].reader
            assert reader is not None
            tail = reader.read(position, limit)
            read[partition] = (tail if tail is not None
                               else await self._read_old(partition, position, limit, deadline))
        return read

    async def _read_old(self, partition: int, after: int, limit: int,
                        deadline: float) -> list[tuple[int, Event]]:
        """Events older than the reader's tail: the partition read again from its start with
        a fold of its own (a cursor, kept to continue from where this read stops; its heads
        bounded as the reader's are, the ones it dropped found again here)."""
        async with self._scan_lock:
            cursor = self._cursors.pop((partition, after), None)
            if cursor is None:
                cursor = PartitionFold(1 << 62, max_ids=self._reader_ids())
            found = [s for s in cursor.ring[cursor.skip:] if s.position > after]
            cursor.ring, cursor.skip = [], 0
            end = await self._end_offset(partition, deadline)
            while len(found) < limit:
                async with aclosing(self._batches(partition, cursor.fed, end,
                                                  deadline)) as batches:
                    async for batch in batches:
                        cursor.fold(batch)
                        self._service(partition, cursor)
                        found += [s for s in cursor.ring if s.position > after]
                        cursor.ring = []
                        if len(found) >= limit or cursor.blocked_on is not None:
                            break
                if cursor.blocked_on is None:
                    break
                cursor.unblock(await self._head_at(partition, cursor, deadline))
                self._service(partition, cursor)
                found += [s for s in cursor.ring if s.position > after]
                cursor.ring = []
            cursor.ring = found[limit:]
            found = found[:limit]
            reader = self.parts[partition].reader
            if found and reader is not None and found[-1].position < reader.ring_from - 1:
                # the next read continues here (once the tail holds it, it reads the tail)
                self._cursors[(partition, found[-1].position)] = cursor
                while len(self._cursors) > 4:
                    del self._cursors[next(iter(self._cursors))]
            return [(s.position, s.event()) for s in found]

    async def _scan(self, ranges: dict[TopicPartition, tuple[int, int]],
                    deadline: float) -> AsyncGenerator[tuple[TopicPartition, list[Any]], None]:
        """The records of each partition from its first offset to its end (exclusive), fetch
        by fetch, the partitions read together (the caller holds the scan lock)."""
        ranges = {tp: span for tp, span in ranges.items() if span[0] < span[1]}
        try:
            for tp, (offset, _) in ranges.items():
                self._scanner.seek(tp, offset)
            self._scanner.resume(*ranges)
            while reading := [tp for tp, (_, end) in ranges.items()
                              if await self._scanner.position(tp) < end]:
                if time.monotonic() >= deadline:
                    raise KafkaError(f"reading {reading} timed out")
                try:
                    fetched = await self._scanner.getmany(*reading, timeout_ms=200)
                except KafkaError:
                    await asyncio.sleep(0.2)
                    continue
                for tp, messages in fetched.items():
                    if within := [m for m in messages if m.offset < ranges[tp][1]]:
                        yield tp, within
        finally:
            self._scanner.pause(*ranges)  # no fetching ahead, nor its buffers (1 MB a partition)

    # -- the heads topic -----------------------------------------------------------------
    async def _lookup_head(self, partition: int, stream: str,
                           deadline: float) -> HeadRecord | None:
        """Where `stream` starts, with the latest snapshot of its head when there is one: the
        latest the heads topic holds for it, or None when it holds none (then the stream has no
        record: an appender writes the head first).
        Lookups asked while one pass over the heads runs are answered by the next pass,
        together."""
        answer: asyncio.Future[HeadRecord | None] = asyncio.get_running_loop().create_future()
        self._lookups.setdefault(partition, {}).setdefault(stream, []).append(answer)
        if self._looking_up is None or self._looking_up.done():
            self._looking_up = asyncio.ensure_future(self._look_up_heads(deadline))
        return await answer

    async def _look_up_heads(self, deadline: float) -> None:
        while self._lookups:
            asked, self._lookups = self._lookups, {}
            found: dict[int, dict[str, HeadRecord]] = {}
            failed: Exception | None = None
            try:
                found = await self._read_heads({p: set(streams) for p, streams in asked.items()},
                                               deadline)
            except Exception as error:
                failed = error
            for partition, streams in asked.items():
                for stream, answers in streams.items():
                    for answer in answers:
                        if answer.done():
                            continue
                        if failed is not None:
                            answer.set_exception(failed)
                        else:
                            answer.set_result(found[partition].get(stream) or None)

    async def _read_heads(self, asked: dict[int, set[str]],
                          deadline: float) -> dict[int, dict[str, HeadRecord]]:
        """The latest head of each asked stream found in its heads partition (the one that
        folds least: a later snapshot, or a later start), read to the end (every head
        acknowledged before this pass began). A heads partition without its filled mark (a
        topic older than heads) is filled first."""
        async with self._scan_lock:
            return await self._read_heads_locked(asked, deadline)

    async def _read_heads_locked(self, asked: dict[int, set[str]],
                                 deadline: float) -> dict[int, dict[str, HeadRecord]]:
        tps = [TopicPartition(self.heads_topic, p) for p in asked]
        ends = await self._end_offsets(tps, deadline)
        keys = {p: {s.encode() for s in streams} for p, streams in asked.items()}
        found: dict[int, dict[str, HeadRecord]] = {p: {} for p in asked}
        filled: set[int] = set()
        async for tp, messages in self._scan({tp: (0, ends[tp.partition]) for tp in tps},
                                             deadline):
            mine, starts = keys[tp.partition], found[tp.partition]
            for message in messages:
                if message.key in mine:
                    stream = message.key.decode()
                    starts[stream] = later(starts.get(stream), HeadRecord.parse(message.value))
                elif message.key == FILLED_KEY:
                    filled.add(tp.partition)
        # a head found and a filled start are both true: the later one folds less
        for partition in set(asked) - filled:
            for stream, start in (await self._fill_heads(partition, deadline)).items():
                if stream in asked[partition]:
                    found[partition][stream] = later(found[partition].get(stream),
                                                     HeadRecord(start))
        return found

    async def _fill_heads(self, partition: int, deadline: float) -> dict[str, int]:
        """Write the start of every stream of an events partition written before the heads
        topic existed (or by a plain producer before it was filled), then the mark that says
        the heads partition is complete. Deterministic, so two processes filling at once
        write the same. The caller holds the scan lock."""
        tp = self._partitions[partition]
        end = await self._end_offset(partition, deadline)
        starts: dict[str, int] = {}
        async for _, messages in self._scan({tp: (0, end)}, deadline):
            for message in messages:
                starts.setdefault(message.key.decode(), message.offset + 1)
        await asyncio.gather(*(self._write_head(partition, stream.encode(), HeadRecord(start),
                                                deadline)
                               for stream, start in starts.items()))
        await self._write_head(partition, FILLED_KEY, HeadRecord(end + 1), deadline)
        return starts

    async def _write_head(self, partition: int, key: bytes, head: HeadRecord,
                          deadline: float) -> None:
        """Write a head and wait for the broker's acknowledgement (retried until `deadline`)."""
        value = head.encode()
        while True:
            try:
                await self._producer.send_and_wait(self.heads_topic, value, key=key,
                                                   partition=partition)
                return
            except KafkaError:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(0.2)

    # -- appending -----------------------------------------------------------------------
    async def _append(self, stream: str, events: list[Event]) -> list[Event]:
        deadline = time.monotonic() + self.append_timeout_s
        part = self.parts[self.partition_of(stream)]
        while True:
            fold = await self._serve(stream, deadline)
            lock = self._stream_locks.setdefault(stream, asyncio.Lock())
            async with lock:
                if part.streams.get(stream) is fold:  # (not forgotten while we waited)
                    return await self._append_to(part, fold, stream, events, deadline)

    async def _append_to(self, part: Partition, fold: StreamFold, stream: str,
                         events: list[Event], deadline: float) -> list[Event]:
        """Append to a served stream (its lock held)."""
        ids = [e.event_id for e in events]
        if fold.needs_history(ids):  # a retry of events whose stored copies are not held
            await self._read_history(part, stream, fold, deadline)
        stored = fold.stored(ids)
        if stored is not None:
            return stored
        fresh = [e for e in events if e.event_id not in fold.ids]
        check_fence(fold.fence, fresh)  # early answer; the fold decides
        if not fold.head_written:  # a stream's first record: its head goes before it
            await self._write_head(part.partition, stream.encode(), HeadRecord(fold.start),
                                   deadline)
            fold.head_written = True
        appended = await self._produce(part, stream, events)
        if fold.version - fold.snapshot_version >= SNAPSHOT_EVERY:
            self._snapshot(part, stream, fold)
        return appended

    def _snapshot(self, part: Partition, stream: str, fold: StreamFold) -> None:
        """Write the stream's head as it stands now to the heads topic, in the background (a
        snapshot only saves folding, and a lost one costs nothing else), at the follower's
        position when it stands at or after the fold's (every record before it folded: the
        fold of a served stream is given each of its records the follower passes), else at
        the fold's."""
        at = max(fold.next, part.next_position)
        head = HeadRecord(fold.start, at, fold.snapshot())
        fold.snapshot_version, fold.snapshot_at = fold.version, at
        task = asyncio.ensure_future(self._write_head(
            part.partition, stream.encode(), head, time.monotonic() + self.append_timeout_s))
        self._snapshots.add(task)
        task.add_done_callback(self._snapshots.discard)
        task.add_done_callback(_written)

    async def _read_history(self, part: Partition, stream: str, fold: StreamFold,
                            deadline: float) -> None:
        """Hold again the events of `stream` up to `fold.base`: its records read again from
        the broker from its start, folded alone until that version."""
        async with self._scan_lock:
            while fold.base and part.streams.get(stream) is fold:
                wanted, older = fold.base, StreamFold(fold.start, head_written=True)
                end = await self._end_offset(part.partition, deadline)
                async with aclosing(self._batches_of(part.partition, stream, fold.start, end,
                                                     deadline)) as batches:
                    async for batch in batches:
                        older.fold(batch)
                        if older.version >= wanted:
                            break
                if older.version < wanted:
                    raise KafkaError(f"stream {stream}: {older.version} of its {wanted} events"
                                     f" found again in partition {part.partition}")
                if fold.base == wanted:  # (not dropped again meanwhile)
                    held = fold.bytes
                    fold.prepend(older.history[:wanted])
                    part.kept += fold.bytes - held

    async def _batches_of(self, partition: int, stream: str, start: int, end: int,
                          deadline: float) -> AsyncGenerator[list[Record], None]:
        """The batches of `stream` among `_batches` of its partition."""
        async with aclosing(self._batches(partition, start, end, deadline)) as batches:
            async for batch in batches:
                if batch[0].stream_id == stream:
                    yield batch

    async def _batches(self, partition: int, start: int, end: int,
                       deadline: float) -> AsyncGenerator[list[Record], None]:
        """The batches (records of one append) of an events partition from position `start`
        to offset `end` (exclusive), read again from the broker (the caller holds the scan
        lock)."""
        position, pending = start, list[Any]()
        async with aclosing(self._scan({self._partitions[partition]: (start - 1, end)},
                                       deadline)) as scan:
            async for _, messages in scan:
                batches, pending = complete_batches(pending + messages, position)
                for batch in batches:
                    position = batch[-1].position + 1
                    yield batch

    async def _produce(self, part: Partition, stream: str, events: list[Event]) -> list[Event]:
        batch_id = uuid.uuid4().hex
        deadline = time.monotonic() + self.append_timeout_s
        part.watched.add(batch_id)
        try:
            sent = await self._send(part, stream, events, batch_id, deadline)
            await self._wait(lambda: batch_id in part.outcomes, deadline)
            outcome = part.outcomes.pop(batch_id)
        finally:
            part.watched.discard(batch_id)
        if outcome.fenced_by:
            raise Fenced(f"fenced off by generation {outcome.fenced_by} on stream {stream}")
        # what we sent, where the fold stored it with the version we stamped (not decoded again)
        return [mine if stored.version == mine.version else stored.event()
                for mine, stored in zip(sent, outcome.stored, strict=True)]

    async def _send(self, part: Partition, stream: str, events: list[Event], batch_id: str,
                    deadline: float) -> list[Event]:
        """Send the append (the sender retries until the broker acknowledges it); return the
        events as sent, stamped with the versions they take if nothing raced them."""
        tag = f"{batch_id}:{len(events)}"
        version = part.version(stream)
        stamped = [e.stamped(version + i) for i, e in enumerate(events, start=1)]
        records = [(stream.encode(), encode(e), headers_of(e, tag)) for e in stamped]
        offset = await self._sender.send(records, part.partition,
                                         max(0.0, deadline - time.monotonic()))
        if part.next_position == offset + 1:
            # everything before our batch is folded: fold it at once (the follower skips it);
            # otherwise the follower folds it when it gets there
            part.fold([Record(offset + i, stream, e.event_id, e.generation, batch_id, value)
                       for i, (e, (_, value, _)) in enumerate(zip(stamped, records,
                                                                  strict=True), start=1)])
            self._skip_own(part.partition, offset, len(records))
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

    # -- reading partitions whole with bounded heads --------------------------------------
    def _reader_ids(self) -> int:
        """The ids each partition's reader (or old read's cursor) may hold: the process's
        `max_read_ids` shared between them."""
        readers = sum(p.reader is not None for p in self.parts) + len(self._cursors) + 1
        return max(HEAD_COST * 4, self.max_read_ids // readers)

    def _service(self, partition: int, fold: PartitionFold) -> None:
        """Write the snapshots of the heads `fold` drops (each dropped once acknowledged)."""
        while fold.to_write:
            stream, at, head = fold.to_write.pop(0)
            record = HeadRecord(0, at, head, fold.token)
            task = asyncio.ensure_future(self._write_head(
                partition, reader_name(stream).encode(), record,
                time.monotonic() + self.append_timeout_s))
            self._snapshots.add(task)
            task.add_done_callback(self._snapshots.discard)
            task.add_done_callback(partial(_dropped, fold, stream, at))

    def _recover(self, part: Partition) -> None:
        """Give the reader of `part` the head it stopped for (in the background)."""
        reader = part.reader
        if reader is None or reader.blocked_on is None or part.partition in self._recovering:
            return

        async def recover() -> None:
            try:
                while reader.blocked_on is not None and part.reader is reader:
                    try:
                        async with self._scan_lock:
                            head = await self._head_at(
                                part.partition, reader, time.monotonic() + self.append_timeout_s)
                    except (KafkaError, TimeoutError):
                        await asyncio.sleep(0.5)
                        continue
                    except Exception:  # a fault of ours: said, and tried again (reads wait)
                        log.exception("kafka log: finding the head of %s in partition %d",
                                      reader.blocked_on, part.partition)
                        await asyncio.sleep(5.0)
                        continue
                    reader.unblock(head)
                    self._service(part.partition, reader)
                    async with self._advanced:
                        self._advanced.notify_all()
            finally:
                self._recovering.pop(part.partition, None)

        self._recovering[part.partition] = asyncio.ensure_future(recover())

    async def _head_at(self, partition: int, fold: PartitionFold, deadline: float) -> Head:
        """The head of `fold.blocked_on` at the first waiting record (the scan lock held): the
        snapshot this fold wrote when it dropped it (nothing of the stream since: it stopped
        at its next record); else the latest true snapshot before that record, or the start,
        folded on to it; or an empty head when no reader ever dropped it (never folded: this
        is its first record)."""
        stream, at = fold.blocked_on, fold.waiting[0][0].position
        assert stream is not None
        found = (await self._read_heads_locked({partition: {stream, reader_name(stream)}},
                                               deadline))[partition]
        dropped, own = found.get(reader_name(stream)), found.get(stream)
        head = Head()
        if dropped is None:
            return head
        if dropped.by == fold.token and dropped.head is not None:
            head.restore(dropped.head)
            return head
        usable = [h for h in (dropped, own) if h is not None and h.head is not None
                  and h.at <= at]
        start = own.start if own is not None else 1
        if usable:
            best = max(usable, key=lambda h: h.at)
            assert best.head is not None
            head.restore(best.head)
            start = best.at
        async with aclosing(self._batches_of(partition, stream, start, at - 1,
                                             deadline)) as batches:
            async for batch in batches:
                head.decide(batch)
        return head


def _dropped(fold: PartitionFold, stream: str, at: int, task: asyncio.Task[None]) -> None:
    fold.written(stream, at, not task.cancelled() and task.exception() is None)


def _written(task: asyncio.Task[None]) -> None:
    """A snapshot written, or not (the broker away past its deadline, or the log closed)."""
    if not task.cancelled():
        task.exception()


def complete_batches(messages: list[Any],
                     position: int) -> tuple[list[list[Record]], list[Any]]:
    """The complete batches (records of one append) among received `messages` that continue a
    fold standing at `position`, and the incomplete rest. Records before `position` were
    folded already; records that do not continue it (a fetch from before the follower was
    moved) are dropped: offsets in the events topic have no gaps."""
    at = 0
    while at < len(messages) and messages[at].offset + 1 < position:
        at += 1
    if at < len(messages) and messages[at].offset + 1 != position:
        return [], []
    batches: list[list[Record]] = []
    while at < len(messages):  # (an index: slicing the rest off each batch was quadratic)
        size = batch_size_of(messages[at])
        if len(messages) - at < size:
            break
        batches.append([record_of(m) for m in messages[at : at + size]])
        at += size
    return batches, messages[at:]


def heads_topic_of(topic: str) -> str:
    return f"{topic}.heads"


@dataclass(frozen=True)
class HeadRecord:
    """A stream's entry in the heads topic: `start`, a position at or before its first record,
    and, once it has one, a snapshot of its head at position `at` (every record of the stream
    before `at` folded): a process taking the stream up folds from `at` instead of `start`."""

    start: int
    at: int = 0
    head: Mapping[str, Any] | None = None
    by: str = ""  # the reader that wrote it when it dropped the head (under `reader_name`)

    @property
    def folds_from(self) -> int:
        return self.at if self.head is not None else self.start

    def encode(self) -> bytes:
        if self.head is None:
            return json.dumps({"start": self.start}).encode()
        entry = {"start": self.start, "at": self.at, "head": self.head}
        return json.dumps({**entry, "by": self.by} if self.by else entry).encode()

    @classmethod
    def parse(cls, value: bytes) -> HeadRecord:
        entry = json.loads(value)
        head = entry.get("head")
        return cls(int(entry.get("start", 0)), int(entry.get("at", 0)) if head else 0, head,
                   str(entry.get("by", "")))


def reader_name(stream: str) -> str:
    """The key of the snapshots readers write of `stream` when they drop its head (not the
    stream's own key: a reader must find its own snapshot again, and appenders write theirs
    under the stream's key)."""
    return f"\x01read:{stream}"


def later(known: HeadRecord | None, found: HeadRecord) -> HeadRecord:
    """Of two true heads of one stream, the one a take-up folds least from."""
    if known is None or found.folds_from > known.folds_from:
        return found
    return known


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
    """Create the events topic and its heads topic with cloudrec's settings (a no-op for one
    that exists); return the events topic's partition count (an existing topic keeps its own;
    the heads topic has as many partitions)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        await create_topic(admin, topic, partitions, EVENTS_TOPIC_CONFIG)
        count = await partition_count(admin, topic)
        heads = heads_topic_of(topic)
        await create_topic(admin, heads, count, HEADS_TOPIC_CONFIG)
        if (heads_count := await partition_count(admin, heads)) != count:
            raise KafkaError(f"topic {heads} has {heads_count} partitions, {topic} {count}:"
                             " they must be equal (each stream's head is in its partition)")
        return count
    finally:
        await admin.close()


async def create_topic(admin: AIOKafkaAdminClient, topic: str, partitions: int,
                       config: dict[str, str]) -> None:
    response = await admin.create_topics([NewTopic(
        topic, num_partitions=partitions, replication_factor=1, topic_configs=config)])
    for name, code, *message in response.topic_errors:
        if code not in (0, TopicAlreadyExistsError.errno):
            raise for_code(code)(f"cannot create topic {name}: {message}")


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
