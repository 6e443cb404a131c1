"""The fold that gives Kafka records the log contract (versions, idempotency, fencing), kept per
stream in heads that a process loads only for the streams it serves."""

from __future__ import annotations

from array import array

from cloudrec.events.catalog import encode
from cloudrec.events.replica import WINDOW, Head, Record, Replica

from .contract import slice_event


def records(first_position: int, batch: str, *events: object) -> list[Record]:
    return [Record(first_position + i, e.stream_id, e.event_id, e.generation, batch,  # type: ignore[attr-defined]
                   encode(e))  # type: ignore[arg-type]
            for i, e in enumerate(events)]


def loaded(*streams: str) -> Replica:
    replica = Replica()
    replica.begin_loading(streams)
    for stream in streams:
        replica.finish_loading(Head(stream), [])
    return replica


def test_versions_are_counted_per_stream_in_partition_order() -> None:
    replica = loaded("a", "b")
    replica.fold(records(1, "x", slice_event("a", 0), slice_event("a", 1)))
    replica.fold(records(3, "y", slice_event("b", 0)))
    replica.fold(records(4, "z", slice_event("a", 2)))
    assert list(replica.heads["a"].positions) == [1, 2, 4]
    assert [(p, e.stream_id, e.version) for p, e in replica.stored(replica.ring_from(3))] == [
        (3, "b", 1), (4, "a", 3)]
    assert replica.next_position == 5


def test_a_redelivered_batch_is_stored_once_and_leaves_a_gap_in_positions() -> None:
    replica, event = loaded("a"), slice_event("a", 0)
    replica.watched.add("retry")
    replica.fold(records(1, "first", event))
    replica.fold(records(2, "retry", event, slice_event("a", 1)))
    assert replica.heads["a"].version == 2
    assert [s.version for s in replica.outcomes["retry"].stored] == [1, 2]
    assert [p for p, _ in replica.stored(replica.ring_from(1))] == [1, 3]


def test_a_batch_with_a_fenced_event_is_rejected_whole() -> None:
    replica = loaded("a")
    replica.watched.add("zombie")
    replica.fold(records(1, "x", slice_event("a", 0, generation=3)))
    replica.fold(records(2, "zombie", slice_event("a", 1, generation=3),
                         slice_event("a", 2, generation=2)))
    assert replica.outcomes["zombie"].fenced_by == 3
    assert replica.heads["a"].version == 1
    assert replica.next_position == 4  # rejected records still advance the fold


def test_outcomes_are_kept_only_for_watched_batches() -> None:
    replica = loaded("a")
    replica.fold(records(1, "someone-else", slice_event("a", 0)))
    assert replica.outcomes == {}


def test_streams_not_loaded_are_passed_over_and_hold_no_state() -> None:
    replica = loaded("a")
    for n in range(50):
        replica.fold(records(n + 1, f"b{n}", slice_event(f"other{n}", 0)))
    replica.fold(records(51, "mine", slice_event("a", 0)))
    assert set(replica.heads) == {"a"} and replica.heads["a"].version == 1


def test_a_load_folds_what_was_scanned_below_the_hold_then_what_was_held_back() -> None:
    """The loader scans the partition from the head's `next` to where the fold began holding
    the stream back; batches the follower folds meanwhile wait, then follow in order."""
    replica = Replica()
    replica.start_at(11)  # this process began following at position 11
    hold = replica.begin_loading(["a"])
    assert hold == 11
    replica.fold(records(11, "late", slice_event("a", 5)))  # held back while loading
    replica.fold(records(12, "other", slice_event("b", 0)))
    older = Head("a", next=3, positions=records_positions(1, 2))  # from the heads topic
    older.ids = {"e1": 1, "e2": 2}
    scanned = [records(3, "s3", slice_event("a", 3)), records(7, "s7", slice_event("a", 4))]
    head = replica.finish_loading(older, scanned)
    assert list(head.positions) == [1, 2, 3, 7, 11]
    assert head.next == 13 and "a" not in replica.loading
    replica.fold(records(13, "next", slice_event("a", 6)))
    assert head.version == 6


def records_positions(*positions: int) -> array[int]:
    return array("q", positions)


def test_a_head_newer_than_the_fold_skips_what_it_has_already() -> None:
    replica = Replica()
    replica.start_at(5)
    replica.begin_loading(["a"])
    replica.fold(records(5, "old", slice_event("a", 1)))  # already in the head below
    newer = Head("a", next=6, positions=records_positions(2, 5), ids={"x": 1, "y": 2})
    head = replica.finish_loading(newer, [])
    assert list(head.positions) == [2, 5]
    replica.fold(records(6, "new", slice_event("a", 2)))
    assert list(head.positions) == [2, 5, 6]


def test_a_head_round_trips_through_the_heads_topic_with_its_window_of_ids() -> None:
    head = Head("a")
    events = [slice_event("a", n, generation=2) for n in range(WINDOW + 10)]
    for n, event in enumerate(events):
        head.fold(records(2 * n + 1, f"b{n}", event))
    again = Head.decode("a", head.encode(next_position=999))
    assert again.next == 999 and again.fence == 2
    assert list(again.positions) == list(head.positions) == [2 * n + 1 for n in range(len(events))]
    assert again.ids == head.ids and len(again.ids) == WINDOW
    assert again.stored([events[-1].event_id]) == [len(events)]
    assert again.stored([events[0].event_id]) is None  # out of the window
    assert again.version_at(3) == 2 and again.version_at(4) == 0


def test_an_append_larger_than_the_window_is_stored_whole() -> None:
    head = Head("a")
    outcome = head.fold(records(1, "big", *[slice_event("a", n) for n in range(WINDOW + 50)]))
    assert outcome is not None
    assert [s.version for s in outcome.stored] == list(range(1, WINDOW + 51))
    assert len(head.ids) == WINDOW and head.version == WINDOW + 50
