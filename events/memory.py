"""In-memory event log: the reference implementation of the port, for unit tests."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from cloudrec.events.envelope import Event
from cloudrec.events.log import check_fence, read_each, single_stream


class MemoryEventLog:
    partitions = 1  # one append order: positions are global

    def __init__(self) -> None:
        self._all: list[Event] = []
        self._by_id: dict[str, Event] = {}
        self._fences: dict[str, int] = {}
        self._versions: dict[str, int] = {}
        self._lock = threading.Lock()

    def append(self, events: Sequence[Event]) -> list[Event]:
        if not events:
            return []
        stream = single_stream(events)
        with self._lock:
            fresh = [e for e in events if e.event_id not in self._by_id]
            self._fences[stream] = check_fence(self._fences.get(stream, 0), fresh)
            for event in fresh:
                self._versions[stream] = self._versions.get(stream, 0) + 1
                stored = event.stamped(self._versions[stream])
                self._all.append(stored)
                self._by_id[stored.event_id] = stored
            return [self._by_id[e.event_id] for e in events]

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[Event]:
        with self._lock:
            return [e for e in self._all if e.stream_id == stream_id and e.version > after_version]

    def read_all(self, after: int = 0, limit: int = 1000,
                 partition: int = 0) -> list[tuple[int, Event]]:
        if partition != 0:
            raise ValueError(f"this log has one partition (0), not {partition}")
        with self._lock:
            return [(i + 1, e) for i, e in enumerate(self._all[after : after + limit], start=after)]

    def read_partitions(self, after: Mapping[int, int],
                        limit: int = 1000) -> dict[int, list[tuple[int, Event]]]:
        return read_each(self, after, limit)

    def close(self) -> None:
        pass
