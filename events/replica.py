"""The event-log contract as a fold over raw records in partition order (used by the Kafka log).

Kafka stores what producers sent; per-stream versions, idempotency by `event_id` and generation
fencing are decided here, deterministically, by folding the records in offset order. Every process
that folds the same partition reaches the same answer, so any of them can tell an appender whether
its batch was stored, was a duplicate, or was fenced off.

A record is one event; the records of one `append` share a batch id and form one Kafka record batch
(written atomically, contiguous in the partition). A batch is accepted or rejected whole: if one of
its new events carries a generation below the stream's fence, none of them is stored.
The fold reads only the record's key and headers; bodies are decoded when read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from cloudrec.events.catalog import decode
from cloudrec.events.envelope import Event


class Record(NamedTuple):
    """One Kafka record as the fold sees it: position = offset + 1 (positions start at 1).
    (A tuple: every record a process receives becomes one, and a frozen dataclass took 3x
    as long to make.)"""

    position: int
    stream_id: str
    event_id: str
    generation: int
    batch_id: str
    body: bytes


@dataclass
class Stored:
    position: int
    version: int
    body: bytes

    def event(self) -> Event:
        return decode(self.body).stamped(self.version)


@dataclass
class Outcome:
    """What became of one batch: the stored copies in the batch's order, or the fence it hit."""

    stored: list[Stored] = field(default_factory=list)
    fenced_by: int = 0


class Replica:
    """In-memory index of one events partition, folded record by record."""

    def __init__(self, partition: int = 0) -> None:
        self.partition = partition
        self.order: list[Stored] = []  # accepted records, increasing positions
        self.by_id: dict[str, Stored] = {}
        self.streams: dict[str, list[Stored]] = {}
        self.fences: dict[str, int] = {}
        self.next_position = 1  # the position of the next record to fold
        self.outcomes: dict[str, Outcome] = {}
        self.watched: set[str] = set()  # batch ids an appender of this process waits for

    def fold(self, batch: Sequence[Record]) -> None:
        """Fold the records of one append (one batch id, contiguous)."""
        outcome = self._fold(batch)
        self.next_position = max(self.next_position, batch[-1].position + 1)
        if batch[0].batch_id in self.watched:
            self.outcomes[batch[0].batch_id] = outcome

    def _fold(self, batch: Sequence[Record]) -> Outcome:
        stream = batch[0].stream_id
        fresh = [r for r in batch if r.event_id not in self.by_id]
        fence = self.fences.get(stream, 0)
        for record in fresh:
            if 0 < record.generation < fence:
                return Outcome(fenced_by=fence)
            fence = max(fence, record.generation)
        for record in fresh:
            self._store(record)
        self.fences[stream] = fence
        return Outcome(stored=[self.by_id[r.event_id] for r in batch])

    def _store(self, record: Record) -> None:
        history = self.streams.setdefault(record.stream_id, [])
        stored = Stored(record.position, len(history) + 1, record.body)
        history.append(stored)
        self.order.append(stored)
        self.by_id[record.event_id] = stored

    # -- reads ---------------------------------------------------------------------------
    def read_stream(self, stream_id: str, after_version: int = 0) -> list[Event]:
        return [s.event() for s in self.streams.get(stream_id, [])[after_version:]]

    def read_all(self, after: int, limit: int) -> list[tuple[int, Event]]:
        start = _first_after(self.order, after)
        return [(s.position, s.event()) for s in self.order[start : start + limit]]

    def stored(self, event_ids: Sequence[str]) -> list[Event] | None:
        """The stored copies when every one of these events is already stored, else None."""
        if not all(i in self.by_id for i in event_ids):
            return None
        return [self.by_id[i].event() for i in event_ids]

    def version(self, stream_id: str) -> int:
        return len(self.streams.get(stream_id, []))


def _first_after(order: list[Stored], after: int) -> int:
    """Index of the first stored record with position > after (binary search)."""
    low, high = 0, len(order)
    while low < high:
        middle = (low + high) // 2
        if order[middle].position <= after:
            low = middle + 1
        else:
            high = middle
    return low
