"""The event log port: what every backend (embedded SQLite, Kafka) provides.

Contract (tested once in tests/unit/events/contract.py, for every backend):
- `append(events)` writes events of ONE stream atomically, in order, and returns them stamped with
  their per-stream versions (1, 2, ...). An event whose `event_id` is already stored is not written
  again: the stored copy is returned (retried calls are idempotent).
- Fencing: the highest `generation` seen on a stream is its fence; an append carrying a lower,
  non-zero generation raises `Fenced` (a zombie recorder cannot write after a failover).
- `read_stream(stream_id, after_version)` returns that stream's events in version order.
- Partitions: a log has `partitions` (N >= 1; the embedded log 1, Kafka its topic's). A stream
  lives in exactly one, `partition_of(stream_id, N)`, the partition Kafka's own default
  partitioner picks for that key, so a plain producer keyed by the stream id agrees with cloudrec.
  Versions, fencing and idempotency hold per stream, hence per partition.
- `read_all(after, limit, partition)` returns `(position, event)` pairs of every stream of ONE
  partition (default 0) in append order; positions are increasing integers per partition, so a
  reader resumes each partition from the last position it processed there. Order between
  partitions is not defined (as in Kafka); order within a stream always is.
- `read_partitions({partition: after}, limit)` is `read_all` of several partitions at once, with
  one catch-up for them all (on Kafka one end-offsets request, not one per partition).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from cloudrec.events.envelope import Event


class Fenced(Exception):
    """An append from a recorder generation older than the stream's current one."""


class EventLog(Protocol):
    @property
    def partitions(self) -> int: ...

    def append(self, events: Sequence[Event]) -> list[Event]: ...

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[Event]: ...

    def read_all(self, after: int = 0, limit: int = 1000,
                 partition: int = 0) -> list[tuple[int, Event]]: ...

    def read_partitions(self, after: Mapping[int, int],
                        limit: int = 1000) -> dict[int, list[tuple[int, Event]]]: ...

    def close(self) -> None: ...


def single_stream(events: Sequence[Event]) -> str:
    """The one stream id these events belong to (appends are per stream), each event named
    once in the append."""
    streams = {event.stream_id for event in events}
    if len(streams) != 1:
        raise ValueError(f"an append holds events of exactly one stream, got {sorted(streams)}")
    if len({event.event_id for event in events}) != len(events):
        raise ValueError("an append names each event once: an event id appears twice in it")
    return streams.pop()


def check_fence(fence: int, events: Sequence[Event]) -> int:
    """Raise `Fenced` for a stale generation; return the stream's new fence."""
    for event in events:
        if 0 < event.generation < fence:
            raise Fenced(f"generation {event.generation} is fenced off by generation {fence}")
        fence = max(fence, event.generation)
    return fence


def read_each(log: EventLog, after: Mapping[int, int],
              limit: int = 1000) -> dict[int, list[tuple[int, Event]]]:
    """`read_partitions` as one `read_all` per partition (a log whose reads need no catch-up)."""
    return {partition: log.read_all(position, limit, partition)
            for partition, position in after.items()}


def every_event(log: EventLog, batch: int = 5000) -> Iterator[Event]:
    """Every event of every stream, partition after partition, each in append order (so every
    stream's events in order), read `batch` at a time."""
    for partition in range(log.partitions):
        position = 0
        while events := log.read_all(after=position, limit=batch, partition=partition):
            position = events[-1][0]
            yield from (event for _, event in events)


def partition_of(stream_id: str, partitions: int) -> int:
    """The partition of a stream: Kafka's default partitioner on the key (murmur2 of its
    UTF-8 bytes, made positive, modulo the partition count)."""
    if partitions == 1:
        return 0
    return (murmur2(stream_id.encode()) & 0x7FFFFFFF) % partitions


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (`org.apache.kafka.common.utils.Utils.murmur2`), as a signed int."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    tail = data[whole:]
    if tail:
        for i in reversed(range(len(tail))):
            h ^= tail[i] << (8 * i)
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h
