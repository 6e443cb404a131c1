"""The event-log contract on a real Apache Kafka broker, and what only Kafka adds: several
processes sharing one topic, records any plain consumer can read, a broker restart."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from cloudrec.events import kafka, replica
from cloudrec.events.kafka import KafkaAddress, KafkaEventLog, known_position
from cloudrec.events.log import EventLog, Fenced
from cloudrec.events.recording import RecorderLaunched

from ...unit.events.contract import EventLogContract, slice_event

pytestmark = pytest.mark.integration


class TestKafkaEventLog(EventLogContract):
    @pytest.fixture(autouse=True)
    def _topic(self, kafka_url: str) -> None:
        self.url = kafka_url

    def make_log(self) -> EventLog:
        return KafkaEventLog(self.url)


def test_two_writers_on_one_stream_agree_on_versions(kafka_url: str) -> None:
    a, b = KafkaEventLog(kafka_url), KafkaEventLog(kafka_url)
    try:
        def write(log: KafkaEventLog, first: int) -> None:
            for i in range(first, first + 20):
                log.append([slice_event("s", i)])

        threads = [threading.Thread(target=write, args=(log, n)) for log, n in ((a, 0), (b, 100))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        seen_a, seen_b = a.read_stream("s"), b.read_stream("s")
        assert seen_a == seen_b
        assert [e.version for e in seen_a] == list(range(1, 41))
    finally:
        a.close()
        b.close()


def test_writers_sharing_a_partition_each_see_every_event_of_the_other(kafka_url: str) -> None:
    """A writer skips its own records on the way back (it folded them as it sent them): what
    it skips must be only its own. Two clients append batches to two streams of one partition
    at once; each then reads the other's stream whole, and the partition in order."""
    a, b = KafkaEventLog(kafka_url + "?partitions=1"), KafkaEventLog(kafka_url + "?partitions=1")
    try:
        def write(log: KafkaEventLog, stream: str) -> None:
            for i in range(0, 300, 3):
                log.append([slice_event(stream, i + n) for n in range(3)])

        threads = [threading.Thread(target=write, args=args) for args in ((a, "a"), (b, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for log in (a, b):
            for stream in ("a", "b"):
                assert [e.version for e in log.read_stream(stream)] == list(range(1, 301))
            every = log.read_all(0, 1000)
            assert [p for p, _ in every] == list(range(1, 601))
        assert a.read_all(0, 1000) == b.read_all(0, 1000)
    finally:
        a.close()
        b.close()


def test_a_position_being_reset_is_not_waited_for(kafka_url: str) -> None:
    """An append asks the follower's position without waiting: while the consumer still has
    to look it up (after seek_to_beginning) the answer is None at once, then the offset."""
    log = KafkaEventLog(kafka_url)  # (creates the topic)
    log.append([slice_event("s", 0)])
    address = KafkaAddress.parse(kafka_url)
    log.close()

    async def check() -> tuple[int | None, int | None, int | None]:
        consumer = AIOKafkaConsumer(bootstrap_servers=address.bootstrap)
        await consumer.start()
        await asyncio.sleep(0.1)  # (its tasks started: stopping it at once failed in aiokafka)
        try:
            tp = TopicPartition(address.topic, log.partition_of("s"))
            unassigned = known_position(consumer, tp)
            consumer.assign([tp])
            reset = asyncio.ensure_future(consumer.seek_to_beginning(tp))
            await asyncio.sleep(0)  # the reset is requested; its answer takes a round trip
            pending = known_position(consumer, tp)
            await reset
            return unassigned, pending, known_position(consumer, tp)
        finally:
            await consumer.stop()

    assert asyncio.run(check()) == (None, None, 0)


def test_a_newer_generation_in_another_process_fences_a_zombie(kafka_url: str) -> None:
    zombie, successor = KafkaEventLog(kafka_url), KafkaEventLog(kafka_url)
    try:
        zombie.append([slice_event("s", 0, generation=1)])
        successor.append([RecorderLaunched(stream_id="s", at_ms=1, generation=2, recorder_uid=7)])
        with pytest.raises(Fenced):  # the zombie's index is behind: the fold still refuses it
            zombie.append([slice_event("s", 1, generation=1)])
        assert [e.version for e in zombie.read_stream("s")] == [1, 2]
    finally:
        zombie.close()
        successor.close()


def test_a_client_folds_only_the_streams_it_appends_to_or_reads(kafka_url: str) -> None:
    """A process folds a stream from its start (as the heads topic gives it) when it first
    serves or reads it, not the whole topic: tried with one stream per partition written by
    another client, then a fresh client appending to one (its versions continue the history
    it never saw), reading another's stream, a third partition whole, and a zombie's append
    on the last (the fold of a stream taken up late still fences it)."""
    url = kafka_url + "?partitions=4"
    writer, late = KafkaEventLog(url), None
    try:
        streams: dict[int, str] = {}
        for n in range(200):
            streams.setdefault(writer.partition_of(f"s{n}"), f"s{n}")
        assert sorted(streams) == [0, 1, 2, 3]
        neighbours = [f"n{n}" for n in range(40)]  # other streams sharing the partitions
        for n, stream in enumerate(streams.values()):
            writer.append([slice_event(neighbours[n], 0)])
            writer.append([slice_event(stream, i) for i in range(3)])
            writer.append([slice_event(neighbours[n], 1)])
        writer.append([RecorderLaunched(stream_id=streams[3], at_ms=1, generation=2,
                                        recorder_uid=7)])
        late = KafkaEventLog(url)
        assert late.followed_partitions() == set() and late.served_streams() == set()

        (stored,) = late.append([slice_event(streams[1], 3)])
        assert stored.version == 4
        assert late.served_streams() == {streams[1]}
        assert [e.version for e in late.read_stream(streams[2])] == [1, 2, 3]
        assert late.served_streams() == {streams[1], streams[2]}
        assert late.followed_partitions() == {1, 2}
        assert len(late.read_all(0, 100, partition=0)) == 5
        assert late.served_streams() == {streams[1], streams[2]}
        assert late.parts[2].reader is None  # partition 2 followed for one stream only

        with pytest.raises(Fenced):
            late.append([slice_event(streams[3], 3, generation=1)])
        assert late.followed_partitions() == {0, 1, 2, 3}
        assert [e.version for e in writer.read_stream(streams[1])] == [1, 2, 3, 4]
        (fresh,) = late.append([slice_event("brand-new", 0)])
        assert fresh.version == 1
        assert [e.version for e in writer.read_stream("brand-new")] == [1]
    finally:
        writer.close()
        if late is not None:
            late.close()


def test_streams_taken_up_at_once_each_wait_for_their_history(kafka_url: str) -> None:
    """8 threads of a fresh client append at once to 8 streams of one partition that holds
    400 events of theirs: each takes up its stream (the follower moved back for each as
    needed) and every append continues its stream's versions."""
    url = kafka_url + "?partitions=2"
    writer, late = KafkaEventLog(url), None
    try:
        streams = [s for s in (f"t{n}" for n in range(100)) if writer.partition_of(s) == 0][:8]
        for stream in streams:
            writer.append([slice_event(stream, i) for i in range(50)])
        late = KafkaEventLog(url)
        versions: dict[str, int] = {}

        def append(stream: str) -> None:
            (stored,) = late.append([slice_event(stream, 50)])
            versions[stream] = stored.version

        threads = [threading.Thread(target=append, args=(s,)) for s in streams]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert versions == {s: 51 for s in streams}
        assert late.followed_partitions() == {0}
        assert late.parts[0].next_position == 8 * 51 + 1
        assert all(len(late.read_stream(s)) == 51 for s in streams)
    finally:
        writer.close()
        if late is not None:
            late.close()


def test_a_process_forgets_the_least_recently_served_streams_beyond_its_bound(
        kafka_url: str) -> None:
    """A client serving more streams than `max_served` (here 3) drops the folds of the least
    recently used; one served again is taken up again from its head, versions intact."""
    log = KafkaEventLog(kafka_url + "?partitions=2")
    try:
        log.max_served = 3
        for n in range(5):
            log.append([slice_event(f"f{n}", i) for i in range(4)])
        assert log.served_streams() == {"f2", "f3", "f4"}
        (stored,) = log.append([slice_event("f0", 4)])
        assert stored.version == 5
        assert [e.version for e in log.read_stream("f1")] == [1, 2, 3, 4]
        assert log.served_streams() == {"f4", "f0", "f1"}
        assert sum(len(p.streams) for p in log.parts) == 3
    finally:
        log.close()


def snapshots_written(log: KafkaEventLog, timeout_s: float = 30.0) -> None:
    """Wait until the heads snapshots `log` writes in the background are acknowledged."""
    deadline = time.monotonic() + timeout_s
    while log._snapshots and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_long_stream_is_taken_up_from_the_latest_snapshot_of_its_head(kafka_url: str) -> None:
    """Every SNAPSHOT_EVERY events an appender writes its stream's head (version, fence, ids)
    at a position P to the heads topic: a fresh client takes the stream up from P, not from
    its start. Tried: 200 events of one stream among 199 of another; the fresh client's
    append continues the versions, a retry of the stream's first event (before P: its body
    not held) returns the stored copy, and a read from version 0 gives the whole stream."""
    url = kafka_url + "?partitions=1"
    writer, late = KafkaEventLog(url), None
    try:
        first = slice_event("long", 0)
        writer.append([first])
        for i in range(1, 200):
            writer.append([slice_event("long", i)])
            writer.append([slice_event("other", i)])
        assert kafka.SNAPSHOT_EVERY == 128
        snapshots_written(writer)
        late = KafkaEventLog(url)
        (stored,) = late.append([slice_event("long", 200)])
        assert stored.version == 201
        fold = late.parts[0].streams["long"]
        assert fold.base == 128 and fold.snapshot_at == 255  # after v128, at 254
        assert fold.start == 1 and len(fold.history) == 73
        whole = writer.read_stream("long")
        assert late.append([first]) == [whole[0]] and fold.base == 0
        assert late.read_stream("long") == whole
        assert [e.version for e in whole] == list(range(1, 202))
    finally:
        writer.close()
        if late is not None:
            late.close()


def test_a_quiet_stream_taken_up_far_from_its_head_is_snapshotted_there(
        kafka_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A take-up that folded more than SNAPSHOT_SPAN records (here 50) writes the stream's
    head at the follower's position, so the next take-up starts there. Tried: 3 events of a
    stream, then 120 of others; a fresh client reads it, and then another one."""
    monkeypatch.setattr(kafka, "SNAPSHOT_SPAN", 50)
    url = kafka_url + "?partitions=1"
    writer, logs = KafkaEventLog(url), []
    try:
        writer.append([slice_event("quiet", i) for i in range(3)])
        for n in range(120):
            writer.append([slice_event(f"busy{n % 4}", n)])
        logs.append(KafkaEventLog(url))
        assert logs[0].read_stream("quiet") == writer.read_stream("quiet")
        snapshots_written(logs[0])
        first = logs[0].parts[0].streams["quiet"]
        assert first.snapshot_at == 124 and first.base == 0  # folded from its start, at 1
        logs.append(KafkaEventLog(url))
        (stored,) = logs[1].append([slice_event("quiet", 3)])
        second = logs[1].parts[0].streams["quiet"]
        assert stored.version == 4 and second.base == 3  # taken up at 124
        assert second.history[0].position == 124  # the first record after it
        assert logs[1].read_stream("quiet") == writer.read_stream("quiet")
    finally:
        writer.close()
        for log in logs:
            log.close()


def test_the_events_held_stay_within_their_bound_and_are_read_again(kafka_url: str) -> None:
    """A client holds at most `max_history_bytes` of its served streams' events (here ~6 KB;
    the least recently served dropped to half of it): tried with 8 streams of 10 events read
    one after the other, then the first again, whose events come back from the broker."""
    url = kafka_url + "?partitions=2"
    writer, late = KafkaEventLog(url), None
    try:
        streams = [f"held{n}" for n in range(8)]
        for stream in streams:
            writer.append([slice_event(stream, i) for i in range(10)])
        late = KafkaEventLog(url)
        late.max_history_bytes = 6000
        for stream in streams:
            assert late.read_stream(stream) == writer.read_stream(stream)
            assert sum(p.kept for p in late.parts) <= 6000
        dropped = late.parts[late.partition_of(streams[0])].streams[streams[0]]
        assert dropped.base == 10 and dropped.history == []
        assert late.read_stream(streams[0]) == writer.read_stream(streams[0])
        assert dropped.base == 0 and len(dropped.history) == 10
        assert sum(p.kept for p in late.parts) == sum(
            f.bytes for p in late.parts for f in p.streams.values())
    finally:
        writer.close()
        if late is not None:
            late.close()


def test_readers_with_bounded_heads_find_the_dropped_ones_again(
        kafka_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client reading a partition whole holds heads of at most `max_read_ids` ids: it drops
    the least recently folded once a snapshot of it is written to the heads topic, and finds
    it there when the stream writes again. Tried: 30 streams written in turns, a retry and a
    zombie among them, read by two clients at once with room for about 3 heads each (each
    overwrites the other's snapshots, so each also folds a stream alone from an older one),
    from position 0 through the old-reads cursor (a tail of ~4 KB), then on as more is
    written: every read equals the writer's, whose heads are not bounded."""
    monkeypatch.setattr(replica, "RING_BYTES", 4000)
    monkeypatch.setattr(replica, "IDLE_SPAN", 0)  # (streams active lately are dropped too)
    found, scans = [0], [0]
    head_at, batches_of = KafkaEventLog._head_at, KafkaEventLog._batches_of

    async def counted_head_at(self: KafkaEventLog, *args: object) -> replica.Head:
        found[0] += 1
        return await head_at(self, *args)  # type: ignore[arg-type]

    def counted_batches_of(self: KafkaEventLog, *args: object) -> object:
        scans[0] += 1
        return batches_of(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(KafkaEventLog, "_head_at", counted_head_at)
    monkeypatch.setattr(KafkaEventLog, "_batches_of", counted_batches_of)
    url = kafka_url + "?partitions=1"
    writer, readers = KafkaEventLog(url), []

    def write(turns: range) -> None:
        for turn in turns:
            for n in range(30):
                writer.append([slice_event(f"r{n}", turn, generation=2)])
            if turn == 1:
                writer.append([first_of_r5])  # a retry: stored once
                with pytest.raises(Fenced):
                    writer.append([slice_event("r7", 99, generation=1)])

    def read_whole(log: KafkaEventLog, after: int) -> list[tuple[int, object]]:
        read: list[tuple[int, object]] = []
        while page := log.read_all(after, limit=25):
            read += page
            after = page[-1][0]
        return read

    try:
        first_of_r5 = slice_event("r5", 0, generation=2)
        writer.append([first_of_r5])
        write(range(1, 4))
        expected = read_whole(writer, 0)
        assert len(expected) == 1 + 3 * 30
        readers = [KafkaEventLog(url + "&read_ids=1000"), KafkaEventLog(url)]
        assert [log.max_read_ids for log in readers] == [1000, KafkaEventLog.max_read_ids]
        budget = 2 * 3 * (replica.HEAD_COST + 4)
        for log in readers:
            log.max_read_ids = budget
        results: dict[int, list[tuple[int, object]]] = {}
        threads = [threading.Thread(target=lambda i=i: results.__setitem__(  # type: ignore[misc]
            i, read_whole(readers[i], 0))) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert results == {0: expected, 1: expected}
        position = expected[-1][0]
        write(range(4, 7))
        more = read_whole(writer, position)
        assert len(more) == 90
        assert [read_whole(log, position) for log in readers] == [more, more]
        for log in readers:
            reader = log.parts[0].reader
            assert reader is not None and reader.ids_held <= budget // 2
            assert len(reader.heads) <= 4
        assert found[0] >= 60 and scans[0] >= 1
    finally:
        writer.close()
        for log in readers:
            log.close()


def test_reads_older_than_the_kept_tail_come_from_the_broker_in_order(
        kafka_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader keeps only the tail of a partition's events (RING_BYTES, here ~4 KB): a read
    from position 0 pages through the older ones fetched again (a duplicate and a fenced
    batch among them, left out as the fold decides) and then the tail, with no gap."""
    monkeypatch.setattr(replica, "RING_BYTES", 4000)
    url = kafka_url + "?partitions=1"
    writer, reader = KafkaEventLog(url), None
    try:
        again = slice_event("s3", 0, generation=2)
        for n in range(120):
            writer.append([slice_event(f"s{n % 5}", n, generation=2)])
            if n == 40:
                writer.append([again])
                writer.append([again, slice_event("s3", 1, generation=2)])  # one is new
        with pytest.raises(Fenced):
            writer.append([slice_event("s4", 999, generation=1)])
        reader = KafkaEventLog(url)
        pages, position = [], 0
        while page := reader.read_all(position, limit=17):
            pages.append(page)
            position = page[-1][0]
        read = [item for page in pages for item in page]
        reader_fold = reader.parts[0].reader
        assert reader_fold is not None and reader_fold.ring_from > 60  # most came from the broker
        assert len(read) == 122 and len(pages) == 8
        assert [p for p, _ in read] == sorted({p for p, _ in read})
        assert [p for p, _ in read][40:44] == [41, 42, 44, 45]  # 43 held the duplicate
        versions: dict[str, list[int]] = {}
        for _, event in read:
            versions.setdefault(event.stream_id, []).append(event.version)
        assert all(v == list(range(1, len(v) + 1)) for v in versions.values())
        assert versions["s3"][-1] == 26 and versions["s4"][-1] == 24
        assert read == [(p, e) for p, e in writer.read_all(0, 1000)]
    finally:
        writer.close()
        if reader is not None:
            reader.close()


def test_a_streams_head_is_written_before_its_first_record(kafka_url: str) -> None:
    """The heads topic is what lets a process fold one stream alone: every stream has one head,
    in its partition, at or before its first record. (A topic written before its heads topic
    existed is filled in by the first lookup: test_kafka_old_shapes writes one.)"""
    log = KafkaEventLog(kafka_url + "?partitions=2")
    try:
        for n in range(6):
            log.append([slice_event(f"h{n}", 0)])
            log.append([slice_event(f"h{n}", 1)])
        # each heads partition looked up also holds its filled mark
        filled_marks = len({log.partition_of(f"h{n}") for n in range(6)})
        heads = asyncio.run(_consume_all(kafka_url + ".heads", 6 + filled_marks))
        events = asyncio.run(_consume_all(kafka_url, 12))
        for n in range(6):
            first = min(m.offset + 1 for m in events if m.key == f"h{n}".encode())
            starts = [json.loads(m.value)["start"] for m in heads if m.key == f"h{n}".encode()]
            assert len(starts) == 1 and starts[0] <= first
            assert any(m.partition == log.partition_of(f"h{n}") for m in heads
                       if m.key == f"h{n}".encode())
    finally:
        log.close()


def test_records_are_plain_kafka_with_cloudevents_headers(kafka_url: str) -> None:
    log = KafkaEventLog(kafka_url)
    (stored,) = log.append([slice_event("sid-1", 0)])
    log.close()
    (message,) = asyncio.run(_consume_all(kafka_url, 1))
    headers = {k: v.decode() for k, v in message.headers}
    assert message.key == b"sid-1"
    assert headers["ce_id"] == stored.event_id
    assert headers["ce_type"] == "io.cloudrec.SliceWritten.v1"
    assert headers["ce_specversion"] == "1.0"
    assert json.loads(message.value)["key"] == "sid-1_0.ts"


async def _consume_all(url: str, count: int) -> list[object]:
    address = KafkaAddress.parse(url)
    consumer = AIOKafkaConsumer(address.topic, bootstrap_servers=address.bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        messages: list[object] = []
        while len(messages) < count:
            batches = await consumer.getmany(timeout_ms=10_000)
            assert batches, "no records within 10 s"
            for records in batches.values():
                messages.extend(records)
        return messages
    finally:
        await consumer.stop()


def test_streams_spread_over_the_partitions_where_kafkas_partitioner_puts_their_keys(
        kafka_url: str) -> None:
    """What is tried: 40 streams appended to a topic of 4 partitions; a plain consumer reads
    the records. Each record is in the partition aiokafka's own default partitioner picks for
    its key (so a plain producer keyed by the stream id agrees), every partition is used, and
    each stream's versions run 1, 2, 3 in its partition."""
    from aiokafka.partitioner import DefaultPartitioner

    url = f"{kafka_url}?partitions=4"
    log = KafkaEventLog(url)
    try:
        assert log.partitions == 4
        streams = [f"sid-{n}" for n in range(40)]
        for index in range(3):
            for stream in streams:
                log.append([slice_event(stream, index)])
        by_partition = {p: log.read_all(limit=1000, partition=p) for p in range(4)}
    finally:
        log.close()
    assert all(by_partition.values())  # every partition holds some streams
    kafka = DefaultPartitioner()
    for partition, read in by_partition.items():
        for _, event in read:
            assert kafka(event.stream_id.encode(), [0, 1, 2, 3], [0, 1, 2, 3]) == partition
    versions: dict[str, list[int]] = {}
    for read in by_partition.values():
        for _, event in read:
            versions.setdefault(event.stream_id, []).append(event.version)
    assert versions == {stream: [1, 2, 3] for stream in streams}
    messages = asyncio.run(_consume_all(url, 120))
    assert {m.key.decode(): m.partition for m in messages} == {  # type: ignore[attr-defined]
        s: kafka(s.encode(), [0, 1, 2, 3], [0, 1, 2, 3]) for s in streams}


def test_an_existing_topic_keeps_its_partition_count(kafka_url: str) -> None:
    first = KafkaEventLog(f"{kafka_url}?partitions=3")
    first.append([slice_event("s", 0)])
    first.close()
    again = KafkaEventLog(kafka_url)  # asks for the default (6): the topic has 3
    try:
        assert again.partitions == 3
        assert [e.version for e in again.read_stream("s")] == [1]
    finally:
        again.close()


def test_an_append_too_large_for_a_record_batch_fails_alone(kafka_url: str) -> None:
    """What is tried: one append of 3 MB (larger than a Kafka record batch), then ordinary
    appends, and 300 queued appends of 200 events each from 30 threads (they share requests up
    to the batch limit). The large one raises; the sender keeps going for every other one."""
    log = KafkaEventLog(kafka_url, append_timeout_s=30)
    try:
        huge = [slice_event("big", i).model_copy(update={"key": "k" * 10_000})
                for i in range(300)]
        with pytest.raises(ValueError):
            log.append(huge)
        assert [e.version for e in log.append([slice_event("s", 0)])] == [1]

        def write(n: int) -> None:
            for batch in range(10):
                log.append([slice_event(f"w{n}", batch * 200 + i) for i in range(200)])

        threads = [threading.Thread(target=write, args=(n,)) for n in range(30)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert all(len(log.read_stream(f"w{n}")) == 2000 for n in range(30))
    finally:
        log.close()
