"""The fold that gives Kafka records the log contract: versions, idempotency, fencing, positions."""

from __future__ import annotations

from types import SimpleNamespace

from cloudrec.events.catalog import encode
from cloudrec.events.kafka import batch_size_of, headers_of, record_of
from cloudrec.events.replica import Record, Replica

from .contract import slice_event


def records(first_position: int, batch: str, *events: object) -> list[Record]:
    return [Record(first_position + i, e.stream_id, e.event_id, e.generation, batch,  # type: ignore[attr-defined]
                   encode(e))  # type: ignore[arg-type]
            for i, e in enumerate(events)]


def test_versions_are_counted_per_stream_in_partition_order() -> None:
    replica = Replica()
    replica.fold(records(1, "x", slice_event("a", 0), slice_event("a", 1)))
    replica.fold(records(3, "y", slice_event("b", 0)))
    replica.fold(records(4, "z", slice_event("a", 2)))
    assert [e.version for e in replica.read_stream("a")] == [1, 2, 3]
    tail = replica.read_all(after=2, limit=10)
    assert [(p, e.stream_id) for p, e in tail] == [(3, "b"), (4, "a")]
    assert replica.next_position == 5


def test_a_redelivered_batch_is_stored_once_and_leaves_a_gap_in_positions() -> None:
    replica, event = Replica(), slice_event("a", 0)
    replica.watched.add("retry")
    replica.fold(records(1, "first", event))
    replica.fold(records(2, "retry", event, slice_event("a", 1)))
    assert [e.version for e in replica.read_stream("a")] == [1, 2]
    assert [s.version for s in replica.outcomes["retry"].stored] == [1, 2]
    assert [p for p, _ in replica.read_all(after=0, limit=10)] == [1, 3]


def test_a_batch_with_a_fenced_event_is_rejected_whole() -> None:
    replica = Replica()
    replica.watched.add("zombie")
    replica.fold(records(1, "x", slice_event("a", 0, generation=3)))
    replica.fold(records(2, "zombie", slice_event("a", 1, generation=3),
                         slice_event("a", 2, generation=2)))
    assert replica.outcomes["zombie"].fenced_by == 3
    assert len(replica.read_stream("a")) == 1
    assert replica.next_position == 4  # rejected records still advance the fold


def test_outcomes_are_kept_only_for_watched_batches() -> None:
    replica = Replica()
    replica.fold(records(1, "someone-else", slice_event("a", 0)))
    assert replica.outcomes == {}


def test_a_received_record_reads_its_headers_in_any_order() -> None:
    """Records as cloudrec writes them are read by place; the same headers in another order
    (another producer, a future writer) give the same record and batch size."""
    event = slice_event("s", 0, generation=3)
    written = headers_of(event, "b1:2")
    for headers in (written, list(reversed(written))):
        message = SimpleNamespace(offset=41, key=b"s", value=encode(event), headers=headers)
        assert record_of(message) == Record(42, "s", event.event_id, 3, "b1", encode(event))
        assert batch_size_of(message) == 2
