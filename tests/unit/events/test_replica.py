"""The fold that gives Kafka records the log contract: versions, idempotency, fencing, positions,
decided per stream so that a process folding one stream agrees with one folding the partition."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from cloudrec.events.catalog import encode
from cloudrec.events.kafka import batch_size_of, complete_batches, headers_of, record_of
from cloudrec.events.replica import (
    HEAD_COST,
    WINDOW,
    Evicted,
    Head,
    Partition,
    PartitionFold,
    Record,
    StreamFold,
)

from .contract import slice_event


def records(first_position: int, batch: str, *events: object) -> list[Record]:
    return [Record(first_position + i, e.stream_id, e.event_id, e.generation, batch,  # type: ignore[attr-defined]
                   encode(e))  # type: ignore[arg-type]
            for i, e in enumerate(events)]


def partition_serving(*streams: str) -> Partition:
    part = Partition()
    part.reader = PartitionFold()
    for stream in streams:
        part.streams[stream] = StreamFold(1, head_written=True)
    return part


def test_versions_are_counted_per_stream_in_partition_order() -> None:
    part = partition_serving("a")
    part.fold(records(1, "x", slice_event("a", 0), slice_event("a", 1)))
    part.fold(records(3, "y", slice_event("b", 0)))
    part.fold(records(4, "z", slice_event("a", 2)))
    assert [e.version for e in part.streams["a"].read()] == [1, 2, 3]
    assert part.reader is not None
    tail = part.reader.read(after=2, limit=10)
    assert tail is not None
    assert [(p, e.stream_id, e.version) for p, e in tail] == [(3, "b", 1), (4, "a", 3)]
    assert part.next_position == 5
    assert "b" not in part.streams  # not served: only its head, in the partition's fold


def test_a_redelivered_batch_is_stored_once_and_leaves_a_gap_in_positions() -> None:
    part, event = partition_serving("a"), slice_event("a", 0)
    part.watched.add("retry")
    part.fold(records(1, "first", event))
    part.fold(records(2, "retry", event, slice_event("a", 1)))
    assert [e.version for e in part.streams["a"].read()] == [1, 2]
    assert [s.version for s in part.outcomes["retry"].stored] == [1, 2]
    assert part.reader is not None
    assert [p for p, _ in part.reader.read(after=0, limit=10) or []] == [1, 3]


def test_a_batch_with_a_fenced_event_is_rejected_whole() -> None:
    part = partition_serving("a")
    part.watched.add("zombie")
    part.fold(records(1, "x", slice_event("a", 0, generation=3)))
    part.fold(records(2, "zombie", slice_event("a", 1, generation=3),
                      slice_event("a", 2, generation=2)))
    assert part.outcomes["zombie"].fenced_by == 3
    assert len(part.streams["a"].read()) == 1
    assert part.reader is not None
    assert len(part.reader.read(0, 10) or []) == 1
    assert part.next_position == 4  # rejected records still advance the fold


def test_outcomes_are_kept_only_for_watched_batches() -> None:
    part = partition_serving("a")
    part.fold(records(1, "someone-else", slice_event("a", 0)))
    assert part.outcomes == {}


def test_a_stream_folded_alone_decides_as_the_whole_partition_does() -> None:
    """A process serving one stream from its start and one reading the partition whole agree
    on every version, duplicate and fence, other streams' records interleaved."""
    alone, whole = Partition(), Partition()
    alone.streams["a"] = StreamFold(3, head_written=True)  # the head: "a" starts at 3
    whole.reader = PartitionFold()
    whole.streams["a"] = StreamFold(1, head_written=True)
    first = slice_event("a", 0, generation=2)
    batches = [records(1, "b1", slice_event("b", 0)), records(2, "b2", slice_event("b", 1)),
               records(3, "a1", first), records(4, "b3", slice_event("b", 2, generation=5)),
               records(5, "a2", first, slice_event("a", 1, 2)),
               records(7, "a3", slice_event("a", 2, generation=1)),
               records(8, "a4", slice_event("a", 3, generation=2))]
    for part in (alone, whole):
        part.watched.update({"a2", "a3"})
        for batch in batches:
            part.fold(batch)
    assert alone.streams["a"].read() == whole.streams["a"].read()
    assert [e.version for e in alone.streams["a"].read()] == [1, 2, 3]
    assert alone.outcomes["a3"].fenced_by == whole.outcomes["a3"].fenced_by == 2
    assert whole.reader is not None and whole.reader.heads["a"].version == 3


def test_an_event_id_older_than_the_window_is_stored_again_by_every_fold() -> None:
    """Idempotency holds for an event seen within the stream's last WINDOW events; beyond that
    the record is a new event, and both kinds of fold agree (the window decides)."""
    part = partition_serving("a")
    first = slice_event("a", 0)
    part.fold(records(1, "one", first))
    part.fold(records(2, "many", *(slice_event("a", i) for i in range(1, WINDOW))))
    part.fold(records(WINDOW + 1, "again", first))  # still within the window: a duplicate
    assert part.streams["a"].version == WINDOW
    part.fold(records(WINDOW + 2, "more", slice_event("a", WINDOW)))
    part.fold(records(WINDOW + 3, "late", first))  # now outside it
    assert part.streams["a"].version == WINDOW + 2
    assert part.reader is not None and part.reader.heads["a"].version == WINDOW + 2
    assert len(part.streams["a"].ids) == WINDOW


def test_the_reader_keeps_a_bounded_tail_and_says_when_a_read_is_older() -> None:
    reader = PartitionFold(ring_bytes=3000)
    for n in range(100):
        reader.fold(records(n + 1, f"b{n}", slice_event(f"s{n % 7}", n)))
    assert reader.ring_from > 1
    assert reader.read(0, 10) is None
    tail = reader.read(reader.ring_from - 1, 1000)
    assert tail is not None and [p for p, _ in tail] == list(range(reader.ring_from, 101))
    assert sum(len(s.body) for s in reader.ring[reader.skip:]) <= 3000
    assert len(reader.heads) == 7


def test_a_rewound_partition_folds_again_only_for_the_stream_taken_up() -> None:
    """The follower moved back to fold a stream taken up late: a stream already served skips
    the records it has folded, the new one folds them all."""
    part = partition_serving("a")
    part.reader = None
    part.fold(records(1, "a1", slice_event("a", 0)))
    part.fold(records(2, "b1", slice_event("b", 0)))
    part.fold(records(3, "a2", slice_event("a", 1)))
    part.streams["b"] = StreamFold(2, head_written=True)
    part.rewind(2)
    assert part.next_position == 2
    part.fold(records(2, "b1", slice_event("b", 0)))
    part.fold(records(3, "a2", slice_event("a", 1)))
    assert [e.version for e in part.streams["a"].read()] == [1, 2]
    assert [e.version for e in part.streams["b"].read()] == [1]


def message(offset: int, event: object, tag: str) -> SimpleNamespace:
    return SimpleNamespace(offset=offset, key=b"s", value=encode(event),  # type: ignore[arg-type]
                           headers=headers_of(event, tag))  # type: ignore[arg-type]


def test_complete_batches_continue_the_fold_and_drop_what_does_not() -> None:
    one, two = slice_event("s", 0), slice_event("s", 1)
    received = [message(0, one, "x:1"), message(1, one, "y:2"), message(2, two, "y:2"),
                message(3, two, "z:2")]
    batches, rest = complete_batches(received, 1)
    assert [[r.position for r in b] for b in batches] == [[1], [2, 3]]
    assert rest == received[3:]
    assert complete_batches(received, 2)[0][0][0].position == 2  # folded records skipped
    assert complete_batches(received[2:], 2) == ([], [])  # a fetch from elsewhere: dropped


def test_a_received_record_reads_its_headers_in_any_order() -> None:
    """Records as cloudrec writes them are read by place; the same headers in another order
    (another producer, a future writer) give the same record and batch size."""
    event = slice_event("s", 0, generation=3)
    written = headers_of(event, "b1:2")
    for headers in (written, list(reversed(written))):
        msg = SimpleNamespace(offset=41, key=b"s", value=encode(event), headers=headers)
        assert record_of(msg) == Record(42, "s", event.event_id, 3, "b1", encode(event))
        assert batch_size_of(msg) == 2


def test_a_stream_resumed_from_a_snapshot_of_its_head_decides_as_one_folded_from_its_start(
        ) -> None:
    """A snapshot of a stream's head at position P (through JSON, as the heads topic carries
    it) folds the records after P exactly as the fold from the start does: the versions go on,
    a retry of an event stored before P is a duplicate (its version, not a new one), and an
    older generation stays fenced. Events before P are not held until given back."""
    whole = Partition()
    whole.streams["a"] = StreamFold(1, head_written=True)
    retry = slice_event("a", 1, generation=2)
    before = [records(1, "a1", slice_event("a", 0, generation=2)),
              records(2, "b1", slice_event("b", 0)),
              records(3, "a2", retry, slice_event("a", 2, 2))]
    for batch in before:
        whole.fold(batch)
    snapshot = json.loads(json.dumps(whole.streams["a"].snapshot()))
    resumed = Partition()
    resumed.streams["a"] = StreamFold.resume(1, whole.streams["a"].next, snapshot)
    assert resumed.streams["a"].next == 5 and resumed.streams["a"].base == 3
    after = [records(5, "b2", slice_event("b", 1)),
             records(6, "a3", retry, slice_event("a", 3, generation=2)),
             records(8, "zombie", slice_event("a", 4, generation=1)),
             records(9, "a4", slice_event("a", 5, generation=3))]
    for part in (whole, resumed):
        part.watched.update({"a3", "zombie"})
        for batch in after:
            part.fold(batch)
    mine, theirs = resumed.streams["a"], whole.streams["a"]
    assert [s.version for s in resumed.outcomes["a3"].stored] == [2, 4]
    assert resumed.outcomes["a3"].stored[1] == whole.outcomes["a3"].stored[1]
    assert resumed.outcomes["zombie"].fenced_by == whole.outcomes["zombie"].fenced_by == 2
    assert (mine.version, mine.fence, mine.ids) == (theirs.version, theirs.fence, theirs.ids)
    assert mine.read(3) == theirs.read(3) and len(mine.read(3)) == 2
    with pytest.raises(ValueError):
        mine.read(0)
    assert mine.needs_history([retry.event_id]) and mine.stored([retry.event_id]) is None
    mine.prepend(theirs.history[:3])
    assert mine.read() == theirs.read() and mine.base == 0
    assert mine.stored([retry.event_id]) == [theirs.read()[1]]


def test_a_dropped_history_frees_its_bytes_and_keeps_the_head() -> None:
    part = partition_serving("a")
    part.reader = None
    for n in range(5):
        part.fold(records(n + 1, f"a{n}", slice_event("a", n)))
    fold = part.streams["a"]
    assert part.kept == fold.bytes > 0
    part.kept -= fold.drop_history()
    assert part.kept == 0 and fold.base == fold.version == 5 and fold.read(5) == []
    part.fold(records(6, "a5", slice_event("a", 5)))
    assert [e.version for e in fold.read(5)] == [6] and part.kept == fold.bytes > 0


def test_a_reader_holds_bounded_heads_and_stops_at_a_dropped_stream_until_given_it_back(
        ) -> None:
    """A reader over its `max_ids` drops the least recently folded head once its snapshot
    (the head at the reader's position) is written; a record of a dropped stream stops the
    fold there, later batches waiting, until the head is given back. Tried against a fold
    with no bound: 12 streams in turn, a retry and a zombie among them, give the same
    events, versions and fences; a snapshot that could not be written keeps its head, and a
    stream folded again before its snapshot was written is kept without stopping."""
    bounded, whole = PartitionFold(max_ids=3 * (HEAD_COST + 2), idle=0), PartitionFold()
    snapshots: dict[str, tuple[int, dict[str, object]]] = {}
    stops = 0
    retry, position = slice_event("s3", 0, generation=2), 1
    batches = []
    for n in range(48):
        stream = f"s{n % 12}"
        events = [slice_event(stream, n, generation=2)]
        if n in (3, 27):
            events = [retry]  # s3's first event, then again: a duplicate
        if n == 40:
            events = [slice_event(stream, n, generation=1)]  # a zombie of s4
        batches.append(records(position, f"b{n}", *events))
        position += len(events)
    for batch in batches:
        whole.fold(batch)
        bounded.fold(batch)
        while bounded.to_write or bounded.blocked_on:
            for stream, at, snapshot in bounded.to_write:
                snapshots[stream] = (at, json.loads(json.dumps(snapshot)))
                bounded.written(stream, at, ok=stream != "s0" or stops > 0)
            bounded.to_write = []
            if bounded.blocked_on is not None:
                stops += 1
                at, snapshot = snapshots[bounded.blocked_on]
                assert at <= bounded.waiting[0][0].position
                head = Head()
                head.restore(snapshot)
                bounded.unblock(head)
        assert len(bounded.heads) <= 3 or "s0" in bounded.heads
    assert stops >= 30 and bounded.ids_held <= 3 * (HEAD_COST + 2) + HEAD_COST + 1
    assert bounded.next == whole.next == position
    assert bounded.read(0, 100) == whole.read(0, 100)
    assert len(whole.read(0, 100) or []) == 46  # the duplicate and the zombie left out
    for stream, head in bounded.heads.items():
        assert (head.version, head.fence, head.ids) == (
            whole.heads[stream].version, whole.heads[stream].fence, whole.heads[stream].ids)


def test_a_stream_folded_again_before_its_snapshot_is_written_is_kept() -> None:
    reader = PartitionFold(max_ids=HEAD_COST + 1, idle=0)
    reader.fold(records(1, "a", slice_event("a", 0)))
    reader.fold(records(2, "b", slice_event("b", 0)))
    assert [w[0] for w in reader.to_write] == ["a"] and "a" in reader.evicted
    reader.fold(records(3, "a2", slice_event("a", 1)))  # before the write was acknowledged
    assert reader.blocked_on is None and reader.heads["a"].version == 2
    reader.written("a", 3, ok=True)  # the snapshot at 3 (still true) no longer drops it
    assert "a" in reader.heads


def test_the_evicted_filter_names_every_stream_added() -> None:
    evicted = Evicted()
    assert "x" not in evicted and evicted.bits is None
    names = [f"stream-{n}" for n in range(5000)]
    for name in names:
        evicted.add(name)
    assert all(name in evicted for name in names)
    assert sum(f"other-{n}" in evicted for n in range(5000)) < 50



def test_an_id_named_twice_in_one_batch_is_one_event_and_the_head_snapshots_in_order() -> None:
    """A plain producer may send one event twice in one batch: it is stored once (its second
    copy a duplicate), so a head's ids always have the versions up to its own, in order, and
    its snapshot carries the ids alone."""
    part = partition_serving("a")
    twice = slice_event("a", 1)
    part.watched.add("y")
    part.fold(records(1, "x", slice_event("a", 0)))
    part.fold(records(2, "y", twice, twice, slice_event("a", 2)))
    head = part.streams["a"]
    assert [s.version for s in part.outcomes["y"].stored] == [2, 2, 3]
    assert [e.version for e in head.read()] == [1, 2, 3]
    assert part.reader is not None and part.reader.heads["a"].ids == head.ids
    again = Head()
    again.restore(json.loads(json.dumps(head.snapshot())))
    assert (again.version, again.fence, again.ids) == (head.version, head.fence, head.ids)


def test_a_reader_over_its_budget_drops_only_streams_quiet_for_long() -> None:
    """Dropping a stream that writes again soon would cost a heads lookup each time: a head
    is dropped only when its stream has been quiet for `idle` records (here 10). Tried: 4
    streams in turns (all held, over a budget of one head), then 12 records of one of them
    (the 3 others dropped, as they have been quiet for 10)."""
    reader = PartitionFold(max_ids=HEAD_COST + 1, idle=10)
    for n in range(8):
        reader.fold(records(n + 1, f"b{n}", slice_event(f"s{n % 4}", n)))
    assert len(reader.heads) == 4 and reader.to_write == []
    for n in range(8, 20):
        reader.fold(records(n + 1, f"b{n}", slice_event("s0", n)))
    assert list(reader.heads) == ["s0"]
    assert sorted(w[0] for w in reader.to_write) == ["s1", "s2", "s3"]
