"""The event-log contract as a fold over raw records in partition order (used by the Kafka log).

Kafka stores what producers sent; per-stream versions, idempotency by `event_id` and generation
fencing are decided here, deterministically, by folding each stream's records in offset order.
The decision for a stream depends on that stream's records only (its `Head`: version, fence and
the ids of its last `WINDOW` events), so a process can fold just the streams it serves, from
their first record, and reach the same answer as one that folds the whole partition.

A record is one event; the records of one `append` share a batch id and form one Kafka record batch
(written atomically, contiguous in the partition). A batch is accepted or rejected whole: if one of
its new events carries a generation below the stream's fence, none of them is stored.
The fold reads only the record's key and headers; bodies are decoded when read.

What a process keeps (`Partition`, one per partition of the topic):
- a `StreamFold` per stream it serves (appends to or reads): the head and the stream's events
  (those after a snapshot of the head it was taken up from, or dropped to bound memory);
- a `PartitionFold` when it reads the whole partition (`read_all`): the heads of the streams it
  folded last, `max_ids` ids at most (one dropped is snapshotted first, and found again when
  its stream writes again), and a ring of the most recent events, `RING_BYTES` at most.
Memory grows with the streams served and those active lately in the partitions read, not with
history nor with every stream ever written.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from cloudrec.events.catalog import decode
from cloudrec.events.envelope import Event

WINDOW = 256  # event ids per stream remembered for idempotency: it decides, so it is the same
RING_BYTES = 512 << 10  # events a partition's reader keeps for `read_all` of its tail
STORED_BYTES = 100  # what one kept event costs besides its body (the object, its bytes)
MAX_READ_IDS = 64_000  # a partition's reader holds heads of this many ids (~10 MB) at most,
IDLE_SPAN = 50_000  # of streams quiet for this many records of the partition (never dropping
# a stream active since: over its budget a reader would look its heads up all the time)
HEAD_COST = 8  # one head, counted as this many ids besides its own


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


@dataclass(slots=True)
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


class Head:
    """What the fold needs of one stream: its version, its fence (the highest generation seen)
    and the ids of its last WINDOW stored events with their versions (an event id seen again
    within them is a duplicate: the stored copy stands)."""

    __slots__ = ("version", "fence", "ids", "last")

    def __init__(self) -> None:
        self.version = 0
        self.fence = 0
        self.ids: dict[str, int] = {}
        self.last = 0  # where a reader last folded a record of the stream

    def decide(self, batch: Sequence[Record]) -> list[int] | int:
        """Fold one batch of this stream: the version of each of its records (the stored one
        for a duplicate), or the fence it hit (an int) when the batch is rejected whole."""
        fresh, named = [], set()
        for record in batch:  # (an id named twice in one batch is new once)
            if record.event_id not in self.ids and record.event_id not in named:
                named.add(record.event_id)
                fresh.append(record)
        fence = self.fence
        for record in fresh:
            if 0 < record.generation < fence:
                return fence
            fence = max(fence, record.generation)
        self.fence = fence
        for record in fresh:
            self.version += 1
            self.ids[record.event_id] = self.version
        versions = [self.ids[r.event_id] for r in batch]
        while len(self.ids) > WINDOW:
            del self.ids[next(iter(self.ids))]
        return versions

    def snapshot(self) -> dict[str, Any]:
        """The head as JSON can carry it (in the heads topic): the ids in order, whose
        versions are those up to `version`."""
        return {"version": self.version, "fence": self.fence, "ids": list(self.ids)}

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        self.version, self.fence = int(snapshot["version"]), int(snapshot["fence"])
        ids = snapshot["ids"]
        self.ids = {str(event_id): self.version - len(ids) + n
                    for n, event_id in enumerate(ids, start=1)}


class StreamFold(Head):
    """A served stream: its head and its stored events, folded from `start`, a position before
    which the stream has no record (its entry in the heads topic says so), or taken up from a
    snapshot of its head (`resume`). The events held are those after version `base` (0 when
    all are); older ones are read again from the broker when asked for."""

    __slots__ = ("start", "next", "history", "base", "bytes", "head_written", "snapshot_version",
                 "snapshot_at")

    def __init__(self, start: int, head_written: bool) -> None:
        super().__init__()
        self.start = start
        self.next = start  # records of this stream before it are folded
        self.history: list[Stored] = []  # versions base + 1 ... version
        self.base = 0
        self.bytes = 0  # what the history holds, counted as the ring counts it
        self.head_written = head_written  # the heads topic names a start at or before ours
        self.snapshot_version = 0  # the version and position of the latest snapshot
        self.snapshot_at = start  # this process wrote or took the stream up from

    @classmethod
    def resume(cls, start: int, at: int, snapshot: Mapping[str, Any]) -> StreamFold:
        """The fold of a stream starting at `start` whose head at position `at` (every record
        of it before `at` folded) is `snapshot`: it continues from `at`, with no events held."""
        fold = cls(start, head_written=True)
        fold.restore(snapshot)
        fold.next, fold.base = at, fold.version
        fold.snapshot_version, fold.snapshot_at = fold.version, at
        return fold

    def fold(self, batch: Sequence[Record]) -> Outcome:
        self.next = batch[-1].position + 1
        decided = self.decide(batch)
        if isinstance(decided, int):
            return Outcome(fenced_by=decided)
        stored: list[Stored] = []
        for record, version in zip(batch, decided, strict=True):
            held = self.base + len(self.history)
            if version > held:
                self.history.append(Stored(record.position, version, record.body))
                self.bytes += len(record.body) + STORED_BYTES
            if version > self.base:
                stored.append(self.history[version - self.base - 1])
            else:  # a copy of an event whose stored body is not held: the same event
                stored.append(Stored(record.position, version, record.body))
        return Outcome(stored=stored)

    def read(self, after_version: int = 0) -> list[Event]:
        """The events after `after_version` (at or after `base`: older ones are not held)."""
        if after_version < self.base:
            raise ValueError(f"versions up to {self.base} are not held")
        return [s.event() for s in self.history[after_version - self.base:]]

    def stored(self, event_ids: Sequence[str]) -> list[Event] | None:
        """The stored copies when every one of these events is already stored (and held),
        else None."""
        versions = [self.ids.get(i, 0) for i in event_ids]
        if min(versions) <= self.base:
            return None
        return [self.history[v - self.base - 1].event() for v in versions]

    def needs_history(self, event_ids: Sequence[str]) -> bool:
        """Whether one of these events is stored with a version whose body is not held."""
        return any(0 < self.ids.get(i, 0) <= self.base for i in event_ids)

    def drop_history(self) -> int:
        """Stop holding the events (read again from the broker when asked); the bytes freed."""
        freed, self.bytes = self.bytes, 0
        self.base, self.history = self.version, []
        return freed

    def prepend(self, older: list[Stored]) -> None:
        """The events up to `base`, read again from the broker, held again."""
        assert len(older) == self.base
        self.history = older + self.history
        self.bytes += sum(len(s.body) + STORED_BYTES for s in older)
        self.base = 0


class Evicted:
    """The streams whose heads a fold dropped, as a Bloom filter (fixed memory: a stream may be
    named that was not dropped, never the reverse), allocated at the first drop."""

    BITS = 1 << 18

    def __init__(self) -> None:
        self.bits: bytearray | None = None

    @staticmethod
    def _places(stream: str) -> list[int]:
        digest = hashlib.blake2b(stream.encode(), digest_size=12).digest()
        return [int.from_bytes(digest[i:i + 4], "little") % Evicted.BITS for i in (0, 4, 8)]

    def add(self, stream: str) -> None:
        if self.bits is None:
            self.bits = bytearray(self.BITS // 8)
        for place in self._places(stream):
            self.bits[place >> 3] |= 1 << (place & 7)

    def __contains__(self, stream: str) -> bool:
        bits = self.bits
        return bits is not None and all(bits[p >> 3] & (1 << (p & 7))
                                        for p in self._places(stream))


class PartitionFold:
    """A partition read whole: the heads of its streams (no bodies) and the events of its tail,
    `RING_BYTES` of bodies at most; older events are read again from the broker.

    The heads held are bounded too (`max_ids`, counting each head's ids plus `HEAD_COST`, of
    streams quiet for `idle` records at least: the active ones are held beyond it): the
    least recently folded is dropped once a snapshot of it (its head at `next`) is written to
    the heads topic (`to_write`, then `written`). When a dropped stream's record comes again,
    the fold stops there (`blocked_on`; later batches wait in `waiting`) until its head at
    that record is given back (`unblock`); `token` names this fold's snapshots, so the one it
    finds again is known to be its own."""

    def __init__(self, ring_bytes: int | None = None, max_ids: int | None = None,
                 idle: int | None = None) -> None:
        self.heads: dict[str, Head] = {}  # least recently folded first
        self.next = 1  # the position of the next record to fold
        self.fed = 1  # the position after the last batch given (folded, or waiting)
        self.ring: list[Stored] = []  # stored records, increasing positions, from ring[skip]
        self.skip = 0
        self.ring_from = 1  # the ring holds every stored record at this position or later
        self.ring_bytes = RING_BYTES if ring_bytes is None else ring_bytes
        self._bytes = 0
        self.max_ids = MAX_READ_IDS if max_ids is None else max_ids
        self.idle = IDLE_SPAN if idle is None else idle
        self.ids_held = 0  # the heads' ids, and HEAD_COST per head
        self.token = uuid.uuid4().hex
        self.evicting: dict[str, tuple[int, Head]] = {}  # dropped once their snapshot is written
        self.to_write: list[tuple[str, int, dict[str, Any]]] = []  # snapshots: stream, at, head
        self.evicted = Evicted()
        self.blocked_on: str | None = None
        self.waiting: list[Sequence[Record]] = []

    def fold(self, batch: Sequence[Record]) -> None:
        """Fold a batch (one append) given in partition order; one given before is ignored."""
        if batch[0].position < self.fed:
            return
        self.fed = batch[-1].position + 1
        self._take(batch)

    def _take(self, batch: Sequence[Record]) -> None:
        if self.blocked_on is not None:
            self.waiting.append(batch)
            return
        stream = batch[0].stream_id
        head = self.heads.pop(stream, None)
        if head is None:
            kept = self.evicting.pop(stream, None)
            if kept is not None:  # dropped before its snapshot was written: kept still
                head = kept[1]
            elif stream in self.evicted:  # (maybe) dropped: its head must be found again
                self.blocked_on = stream
                self.waiting.append(batch)
                return
            else:
                head = Head()
            self.ids_held += len(head.ids) + HEAD_COST
        self.heads[stream] = head
        self.next = head.last = batch[-1].position + 1
        known, held = head.version, len(head.ids)
        decided = head.decide(batch)
        self.ids_held += len(head.ids) - held
        if not isinstance(decided, int):
            for record, version in zip(batch, decided, strict=True):
                if version > known:
                    self.ring.append(Stored(record.position, version, record.body))
                    self._bytes += len(record.body) + STORED_BYTES
                    known = version
        self._trim()

    def _trim(self) -> None:
        while self._bytes > self.ring_bytes and self.skip < len(self.ring) - 1:
            dropped = self.ring[self.skip]
            self._bytes -= len(dropped.body) + STORED_BYTES
            self.skip += 1
            self.ring_from = dropped.position + 1
        if self.skip > 4096 and self.skip * 2 > len(self.ring):
            del self.ring[: self.skip]
            self.skip = 0
        while self.ids_held > self.max_ids and len(self.heads) > 1:
            stream = next(iter(self.heads))
            if self.next - self.heads[stream].last < self.idle:
                break  # every head held folded a record lately: over the budget for now
            head = self.heads.pop(stream)
            self.ids_held -= len(head.ids) + HEAD_COST
            self.evicting[stream] = (self.next, head)
            self.to_write.append((stream, self.next, head.snapshot()))  # as it is now
            self.evicted.add(stream)

    def written(self, stream: str, at: int, ok: bool) -> None:
        """The snapshot of `stream` at `at` was written (then its head is dropped), or could
        not be (then it is kept)."""
        kept = self.evicting.get(stream)
        if kept is None or kept[0] != at:
            return  # folded again since: held again (or dropped at a later position)
        del self.evicting[stream]
        if not ok:
            self.heads[stream] = kept[1]
            self.ids_held += len(kept[1].ids) + HEAD_COST

    def unblock(self, head: Head) -> None:
        """The head of `blocked_on` at the first waiting record: fold on (until the next
        dropped stream)."""
        assert self.blocked_on is not None
        stream, self.blocked_on = self.blocked_on, None
        self.heads[stream] = head
        self.ids_held += len(head.ids) + HEAD_COST
        waiting, self.waiting = self.waiting, []
        for batch in waiting:
            self._take(batch)

    def read(self, after: int, limit: int) -> list[tuple[int, Event]] | None:
        """The stored events after position `after`, or None when the ring no longer holds
        all of them."""
        if after < self.ring_from - 1:
            return None
        start = _first_after(self.ring, after, self.skip)
        return [(s.position, s.event()) for s in self.ring[start : start + limit]]


class Partition:
    """One partition as this process folds it: the follower's position, the served streams'
    folds and, when read whole, the partition's. The follower may be moved back (to fold a
    stream taken up late from its start); each fold skips what it has already folded."""

    def __init__(self, partition: int = 0) -> None:
        self.partition = partition
        self.next_position = 1  # the position of the next record the follower folds
        self.streams: dict[str, StreamFold] = {}
        self.kept = 0  # the bytes the served streams' histories hold
        self.reader: PartitionFold | None = None
        self.outcomes: dict[str, Outcome] = {}
        self.watched: set[str] = set()  # batch ids an appender of this process waits for
        self.pending: list[object] = []  # received records of a batch not yet complete

    def fold(self, batch: Sequence[Record]) -> None:
        """Fold the records of one append (one batch id, contiguous), at the follower's place."""
        first = batch[0]
        self.next_position = batch[-1].position + 1
        served = self.streams.get(first.stream_id)
        if served is not None and first.position >= served.next:
            held = served.bytes
            outcome = served.fold(batch)
            self.kept += served.bytes - held
            if first.batch_id in self.watched:
                self.outcomes[first.batch_id] = outcome
        if self.reader is not None:
            self.reader.fold(batch)

    def folded_past(self, end: int) -> bool:
        """Whether every record up to offset `end` is folded (its reader's too, which may
        stand behind the follower while it finds a head it dropped)."""
        return self.next_position > end and (self.reader is None or self.reader.next > end)

    def rewind(self, position: int) -> None:
        """Fold again from `position` (the follower is sought there)."""
        self.next_position = min(self.next_position, position)
        self.pending = []

    def version(self, stream_id: str) -> int:
        served = self.streams.get(stream_id)
        return served.version if served is not None else 0


def _first_after(order: list[Stored], after: int, low: int = 0) -> int:
    """Index of the first stored record with position > after (binary search)."""
    high = len(order)
    while low < high:
        middle = (low + high) // 2
        if order[middle].position <= after:
            low = middle + 1
        else:
            high = middle
    return low
