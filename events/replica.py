"""The event-log contract as a fold over raw records in partition order (used by the Kafka log).

Kafka stores what producers sent; per-stream versions, idempotency by `event_id` and generation
fencing are decided here, deterministically, by folding a stream's records in offset order. Every
process that folds the same stream reaches the same answer, so any of them can tell an appender
whether its batch was stored, was a duplicate, or was fenced off.

A record is one event; the records of one `append` share a batch id and form one Kafka record batch
(written atomically, contiguous in the partition). A batch is accepted or rejected whole: if one of
its new events carries a generation below the stream's fence, none of them is stored.

What the fold needs of a stream is its `Head`: version, fence, the positions of its stored events
and the ids of its last `WINDOW` events (idempotency holds within that window: a retried append
is one of the stream's latest). A fold depends only on its own stream's records, so a process
keeps heads for the streams it serves, not for the topic: `Replica` folds the loaded streams and
passes over the others' records, keeping only a short ring of recent records for tail reads.
The fold reads only the record's key and headers; bodies are decoded when read.
"""

from __future__ import annotations

import json
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice

from cloudrec.events.catalog import decode
from cloudrec.events.envelope import Event

WINDOW = 256  # ids remembered per stream: more than the largest append (an outbox sends <= 200)
RING = 1000  # recent records kept per partition (~0.7 MB), for reads at the tail


@dataclass(frozen=True)
class Record:
    """One Kafka record as the fold sees it: position = offset + 1 (positions start at 1)."""

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


@dataclass
class Head:
    """One stream's fold state, valid for every record of its partition below `next`."""

    stream: str
    next: int = 1
    fence: int = 0
    positions: array[int] = field(default_factory=lambda: array("q"))  # of versions 1, 2, ...
    ids: dict[str, int] = field(default_factory=dict)  # the last WINDOW event ids -> version
    bodies: dict[int, bytes] | None = None  # version -> body, for streams read or appended to

    @property
    def version(self) -> int:
        return len(self.positions)

    def fold(self, batch: Sequence[Record]) -> Outcome | None:
        """Fold one batch of this stream; None when it is below `next` (folded already)."""
        if batch[0].position < self.next:
            return None
        self.next = batch[-1].position + 1
        fresh = [r for r in batch if r.event_id not in self.ids]
        fence = self.fence
        for record in fresh:
            if 0 < record.generation < fence:
                return Outcome(fenced_by=fence)
            fence = max(fence, record.generation)
        self.fence = fence
        for record in fresh:
            self.positions.append(record.position)
            self.ids[record.event_id] = self.version
            if self.bodies is not None:
                self.bodies[self.version] = record.body
        versions = [self.ids[r.event_id] for r in batch]  # (before the window forgets any)
        while len(self.ids) > WINDOW:
            del self.ids[next(iter(self.ids))]
        return Outcome(stored=[Stored(self.positions[v - 1], v, r.body)
                               for r, v in zip(batch, versions, strict=True)])

    def version_at(self, position: int) -> int:
        """The version of the event stored at `position`, or 0 when that record was not
        stored (a duplicate or a fenced batch)."""
        index = bisect_left(self.positions, position)
        found = index < len(self.positions) and self.positions[index] == position
        return index + 1 if found else 0

    def stored(self, event_ids: Sequence[str]) -> list[int] | None:
        """The versions of these events when every one is stored (within the window)."""
        versions = [self.ids.get(i, 0) for i in event_ids]
        return versions if all(versions) else None

    # -- as a record of the heads topic -----------------------------------------------------
    def encode(self, next_position: int) -> bytes:
        deltas = [b - a for a, b in zip([0, *self.positions], self.positions, strict=False)]
        return json.dumps({"next": next_position, "fence": self.fence, "positions": deltas,
                           "ids": list(self.ids)}, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, stream: str, body: bytes) -> Head:
        value = json.loads(body)
        positions: array[int] = array("q")
        at = 0
        for delta in value["positions"]:
            at += delta
            positions.append(at)
        first = len(positions) - len(value["ids"]) + 1
        return cls(stream, value["next"], value["fence"], positions,
                   {event_id: first + i for i, event_id in enumerate(value["ids"])})


class Replica:
    """One events partition as this process folds it: the heads of the streams it loaded,
    batches of streams being loaded held back, a ring of recent records, and the outcomes of
    this process's own batches."""

    def __init__(self, partition: int = 0, ring: int = RING) -> None:
        self.partition = partition
        self.next_position = 1  # the position of the next record to fold
        self.heads: dict[str, Head] = {}
        self.loading: dict[str, list[list[Record]]] = {}  # stream -> batches held back
        self.recent: deque[Record] = deque(maxlen=ring)
        self.outcomes: dict[str, Outcome] = {}
        self.watched: set[str] = set()  # batch ids an appender of this process waits for

    def fold(self, batch: Sequence[Record]) -> None:
        """Fold the records of one append (one batch id, contiguous), the next in the
        partition."""
        stream = batch[0].stream_id
        head = self.heads.get(stream)
        outcome = head.fold(batch) if head is not None else None
        if head is None and stream in self.loading:
            self.loading[stream].append(list(batch))
        self.next_position = max(self.next_position, batch[-1].position + 1)
        self.recent.extend(batch)
        if outcome is not None and batch[0].batch_id in self.watched:
            self.outcomes[batch[0].batch_id] = outcome

    def start_at(self, position: int) -> None:
        """Begin folding at `position` (a process starts at the partition's end)."""
        self.next_position = position
        self.recent.clear()

    # -- loading a stream's head -------------------------------------------------------------
    def begin_loading(self, streams: Iterable[str]) -> int:
        """Hold back these streams' batches from now on; return the position from which the
        fold holds them back (their loaders fold what lies below it themselves)."""
        for stream in streams:
            self.loading.setdefault(stream, [])
        return self.next_position

    def finish_loading(self, head: Head, scanned: Iterable[Sequence[Record]]) -> Head:
        """Install a stream's head: from the heads topic (or new), advanced over its batches
        scanned below the hold-back point, then over the batches held back meanwhile."""
        for batch in scanned:
            head.fold(batch)
        for batch in self.loading.pop(head.stream, []):
            head.fold(batch)
        head.next = max(head.next, self.next_position)
        self.heads[head.stream] = head
        return head

    def abandon_loading(self, streams: Iterable[str]) -> None:
        for stream in streams:
            self.loading.pop(stream, None)

    # -- reads -------------------------------------------------------------------------------
    def ring_from(self, position: int) -> list[Record] | None:
        """The recent records from `position` on, or None when the ring no longer holds it."""
        if position >= self.next_position:
            return []
        if not self.recent or position < self.recent[0].position:
            return None
        first = bisect_left(self.recent, position, key=lambda r: r.position)
        return list(islice(self.recent, first, None))

    def stored(self, records: Iterable[Record]) -> list[tuple[int, Event]]:
        """The stored events among these records of loaded streams, as (position, event)."""
        out = []
        for record in records:
            version = self.heads[record.stream_id].version_at(record.position)
            if version:
                out.append((record.position, decode(record.body).stamped(version)))
        return out
