"""The event-log contract: one abstract suite, subclassed once per backend (factory hook)."""

from __future__ import annotations

import pytest

from cloudrec.events.envelope import Event
from cloudrec.events.log import EventLog, Fenced, every_event, partition_of
from cloudrec.events.recording import RecorderLaunched, StopRequested
from cloudrec.events.segment import SliceWritten


def slice_event(stream: str, index: int, generation: int = 1) -> SliceWritten:
    return SliceWritten(stream_id=stream, at_ms=1000 + index, generation=generation,
                        key=f"{stream}_{index}.ts", index=index, start_ms=index * 15000,
                        duration_s=15.0, size=100)


class EventLogContract:
    """Subclass and implement `make_log`; every test gets a fresh, empty log."""

    def make_log(self) -> EventLog:
        raise NotImplementedError

    @pytest.fixture
    def log(self) -> EventLog:
        log = self.make_log()
        yield log
        log.close()

    def test_append_assigns_versions_per_stream(self, log: EventLog) -> None:
        a = log.append([slice_event("a", 0), slice_event("a", 1)])
        b = log.append([slice_event("b", 0)])
        assert [e.version for e in a] == [1, 2]
        assert [e.version for e in b] == [1]

    def test_read_stream_in_order_after_version(self, log: EventLog) -> None:
        log.append([slice_event("a", i) for i in range(5)])
        log.append([slice_event("b", 0)])
        events = log.read_stream("a", after_version=2)
        assert [e.index for e in events] == [2, 3, 4]  # type: ignore[attr-defined]
        assert all(e.stream_id == "a" for e in events)

    def test_round_trip_keeps_type_and_fields(self, log: EventLog) -> None:
        original = slice_event("a", 7)
        (stored,) = log.append([original])
        (read,) = log.read_stream("a")
        assert isinstance(read, SliceWritten)
        assert read == stored == original.stamped(1)

    def test_read_all_positions_increase_and_resume(self, log: EventLog) -> None:
        appended = [("a", 0), ("b", 0), ("a", 1), ("c", 0), ("a", 2)]
        for stream, index in appended:
            log.append([slice_event(stream, index)])
        seen: list[tuple[str, int]] = []
        for partition in range(log.partitions):
            first = log.read_all(after=0, limit=1, partition=partition)
            rest = log.read_all(after=first[-1][0], partition=partition) if first else []
            positions = [p for p, _ in first + rest]
            assert positions == sorted(set(positions))  # increasing within the partition
            assert {partition_of(e.stream_id, log.partitions) for _, e in first + rest} <= {
                partition}  # each stream in the partition its key gives
            seen += [(e.stream_id, e.version) for _, e in first + rest]
        assert sorted(seen) == [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("c", 1)]
        assert [v for s, v in seen if s == "a"] == [1, 2, 3]  # a stream in order
        if log.partitions == 1:  # one partition: one append order for all
            assert [s for s, _ in seen] == [s for s, _ in appended]

    def test_read_partitions_reads_each_partition_as_read_all_does(self, log: EventLog) -> None:
        for index in range(4):
            for stream in ("a", "b", "c", "d", "e"):
                log.append([slice_event(stream, index)])
        every = {p: log.read_all(after=0, partition=p) for p in range(log.partitions)}
        assert sum(len(events) for events in every.values()) == 20
        firsts = log.read_partitions({p: 0 for p in every}, limit=2)
        assert {p: [(q, e.event_id) for q, e in events] for p, events in firsts.items()} == {
            p: [(q, e.event_id) for q, e in events[:2]] for p, events in every.items()}
        resumed = log.read_partitions(  # from where each partition's first read ended
            {p: events[-1][0] for p, events in firsts.items() if events}, limit=100)
        assert {p: [e.event_id for _, e in events] for p, events in resumed.items()} == {
            p: [e.event_id for _, e in every[p][2:]] for p, events in firsts.items() if events}

    def test_same_event_id_is_not_written_twice(self, log: EventLog) -> None:
        event = slice_event("a", 0)
        log.append([event])
        again = log.append([event, slice_event("a", 1)])
        assert [e.version for e in again] == [1, 2]
        assert len(log.read_stream("a")) == 2

    def test_older_generation_is_fenced(self, log: EventLog) -> None:
        log.append([slice_event("a", 0, generation=1)])
        log.append([RecorderLaunched(stream_id="a", at_ms=5, generation=2, recorder_uid=9)])
        with pytest.raises(Fenced):
            log.append([slice_event("a", 1, generation=1)])
        log.append([StopRequested(stream_id="a", at_ms=6)])  # generation 0: the API, never fenced
        log.append([slice_event("a", 2, generation=2)])
        assert [type(e).__name__ for e in log.read_stream("a")] == [
            "SliceWritten", "RecorderLaunched", "StopRequested", "SliceWritten"]

    def test_fenced_append_writes_nothing(self, log: EventLog) -> None:
        log.append([slice_event("a", 0, generation=3)])
        with pytest.raises(Fenced):
            log.append([slice_event("a", 1, generation=3), slice_event("a", 2, generation=2)])
        assert len(log.read_stream("a")) == 1

    def test_append_needs_one_stream(self, log: EventLog) -> None:
        with pytest.raises(ValueError):
            log.append([slice_event("a", 0), slice_event("b", 0)])

    def test_an_append_naming_one_event_twice_is_refused_whole(self, log: EventLog) -> None:
        twice = slice_event("s", 0)
        with pytest.raises(ValueError, match="twice"):
            log.append([twice, slice_event("s", 1), twice])
        assert log.read_stream("s") == []

    def test_empty_append(self, log: EventLog) -> None:
        assert log.append([]) == []
        assert all(log.read_all(partition=p) == [] for p in range(log.partitions))

    def test_unknown_stream_is_empty(self, log: EventLog) -> None:
        assert log.read_stream("nope") == []


def events_of(log: EventLog) -> list[Event]:
    return list(every_event(log))
