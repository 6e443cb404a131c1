"""The event log port: what every backend (embedded SQLite, Kafka) provides.

Contract (tested once in tests/unit/events/contract.py, for every backend):
- `append(events)` writes events of ONE stream atomically, in order, and returns them stamped with
  their per-stream versions (1, 2, ...). An event whose `event_id` is already stored is not written
  again: the stored copy is returned (retried calls are idempotent).
- Fencing: the highest `generation` seen on a stream is its fence; an append carrying a lower,
  non-zero generation raises `Fenced` (a zombie recorder cannot write after a failover).
- `read_stream(stream_id, after_version)` returns that stream's events in version order.
- `read_all(after, limit)` returns `(position, event)` pairs of every stream in append order;
  positions are increasing integers, so a reader resumes from the last one it processed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from cloudrec.events.envelope import Event


class Fenced(Exception):
    """An append from a recorder generation older than the stream's current one."""


class EventLog(Protocol):
    def append(self, events: Sequence[Event]) -> list[Event]: ...

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[Event]: ...

    def read_all(self, after: int = 0, limit: int = 1000) -> list[tuple[int, Event]]: ...

    def close(self) -> None: ...


def single_stream(events: Sequence[Event]) -> str:
    """The one stream id these events belong to (appends are per stream)."""
    streams = {event.stream_id for event in events}
    if len(streams) != 1:
        raise ValueError(f"an append holds events of exactly one stream, got {sorted(streams)}")
    return streams.pop()


def check_fence(fence: int, events: Sequence[Event]) -> int:
    """Raise `Fenced` for a stale generation; return the stream's new fence."""
    for event in events:
        if 0 < event.generation < fence:
            raise Fenced(f"generation {event.generation} is fenced off by generation {fence}")
        fence = max(fence, event.generation)
    return fence


def every_event(log: EventLog, batch: int = 5000) -> Iterator[Event]:
    """Every event of every stream, in append order, read `batch` at a time."""
    position = 0
    while events := log.read_all(after=position, limit=batch):
        position = events[-1][0]
        yield from (event for _, event in events)
