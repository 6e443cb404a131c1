"""Generic runners: read the log, fold a projection per stream, store views with their position.

A projection is any module or object with `initial(stream_id)` and `apply(view, event)`. Per batch
read from one partition of the log, the runner folds each stream's events into its stored view and
saves the changed views together with the batch's last position in that partition in ONE store
write. Positions at or below the saved one of their partition are treated as already done, so a
redelivered batch is a no-op and ignored events still advance the position. A stream lives in one
partition, so its view is folded from one ordered sequence; a runner may serve some partitions
only (`partitions`, e.g. those a Kafka consumer group assigned it: `GroupRunner`).

Order of effects per batch (quixstreams checkpoint order, style rule 7):
1. side effects: `CallbackRunner` hands every notification to `deliver` (at least once; a crash
   before step 2 redelivers the same notifications with the same `noticeId`s);
2. views + position, in one `ViewStore.save`;
3. the log offset commit (`commit(position, partition)`, e.g. a Kafka consumer commit; the
   embedded log needs none because the stored position is the offset).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from cloudrec.events.envelope import Event
from cloudrec.events.log import EventLog

Batch = Sequence[tuple[int, Event]]
Commit = Callable[[int, int], None]  # (position, partition)


class Conflict(Exception):
    """A save whose partition moved on since the batch was read (another runner of the group
    took the partition over and folded it meanwhile): the batch is dropped, not applied twice."""


class Projection(Protocol):
    def initial(self, sid: str) -> Any: ...

    def apply(self, view: Any, event: Event) -> Any: ...


class ViewStore(Protocol):
    def position(self, partition: int = 0) -> int: ...

    def get(self, stream_id: str) -> Any | None: ...

    def save(self, views: Mapping[str, Any], position: int, partition: int = 0,
             expected: int | None = None) -> None:
        """Store the views and the partition's position atomically (same write); with
        `expected`, raise `Conflict` (storing nothing) unless the stored position is that."""


class MemoryViewStore:
    def __init__(self) -> None:
        self._views: dict[str, Any] = {}
        self._positions: dict[int, int] = {}
        self._lock = threading.Lock()

    def position(self, partition: int = 0) -> int:
        with self._lock:
            return self._positions.get(partition, 0)

    def get(self, stream_id: str) -> Any | None:
        with self._lock:
            return self._views.get(stream_id)

    def save(self, views: Mapping[str, Any], position: int, partition: int = 0,
             expected: int | None = None) -> None:
        with self._lock:
            stored = self._positions.get(partition, 0)
            if expected is not None and stored != expected:
                raise Conflict(f"partition {partition} is at {stored}, not {expected}")
            self._views.update(views)
            self._positions[partition] = max(stored, position)


class ProjectionRunner:
    def __init__(
        self,
        log: EventLog,
        projection: Projection,
        store: ViewStore,
        commit: Commit | None = None,
        batch_size: int = 1000,
        partitions: Iterable[int] | None = None,
    ) -> None:
        self.log, self.projection, self.store = log, projection, store
        self.commit = commit  # the offset commit, last (a group member sets its own)
        self._batch_size = batch_size
        self.partitions = set(range(log.partitions) if partitions is None else partitions)

    def view(self, stream_id: str) -> Any:
        stored = self.store.get(stream_id)
        return self.projection.initial(stream_id) if stored is None else stored

    def catch_up(self, partitions: Iterable[int] | None = None) -> int:
        """Process everything after the stored positions of these partitions (default: all
        the runner serves), each up to its end as of its last read (a batch shorter than the
        limit reached it, so no read after it: while appends keep coming, a log whose reads are
        slow was followed for ever); return the sum of their new positions (with one
        partition: its position)."""
        pending = {p: self.store.position(p)
                   for p in sorted(self.partitions if partitions is None else partitions)}
        reached = dict(pending)
        while pending:  # one read of all of them at a time (one catch-up on the log)
            batches = self.log.read_partitions(pending, self._batch_size)
            pending = {}
            for partition, batch in batches.items():
                if batch:
                    self.process(batch, partition)
                reached[partition] = self.store.position(partition)
                if len(batch) == self._batch_size:
                    pending[partition] = reached[partition]
        return sum(reached.values())

    def wait_for(self, position: int, timeout: float, poll_s: float = 0.01,
                 partition: int = 0) -> bool:
        """Catch up until the partition's stored position reaches `position`; False on
        timeout."""
        deadline = time.monotonic() + timeout
        while self.catch_up([partition]) < position:
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_s)
        return True

    def process(self, batch: Batch, partition: int = 0) -> int:
        """Apply one batch of one partition (redelivered positions skipped), then save, then
        commit. A batch another runner saved first (`Conflict`) is dropped: it is in the
        store already."""
        done = self.store.position(partition)
        fresh = [(position, event) for position, event in batch if position > done]
        if not fresh:
            return done
        views = self._fold(fresh)
        position = fresh[-1][0]
        try:
            self.store.save(views, position, partition, expected=done)
        except Conflict:
            return self.store.position(partition)
        if self.commit is not None:
            self.commit(position, partition)
        return position

    def _fold(self, batch: Batch) -> dict[str, Any]:
        views: dict[str, Any] = {}
        for _, event in batch:
            sid = event.stream_id
            view = views[sid] if sid in views else self.view(sid)
            views[sid] = self._apply(view, event)
        return views

    def _apply(self, view: Any, event: Event) -> Any:
        return self.projection.apply(view, event)


class CallbackRunner(ProjectionRunner):
    """Runs a projection whose `apply` returns `(state, notifications)` and delivers them
    (all of a batch, in log order) before the batch's states and position are saved."""

    def __init__(
        self,
        log: EventLog,
        projection: Projection,
        store: ViewStore,
        deliver: Callable[[Any], None],  # takes each notification `apply` returned
        commit: Commit | None = None,
        batch_size: int = 1000,
        partitions: Iterable[int] | None = None,
    ) -> None:
        super().__init__(log, projection, store, commit, batch_size, partitions)
        self._deliver = deliver
        self._outbox: list[Any] = []

    def _fold(self, batch: Batch) -> dict[str, Any]:
        self._outbox = []
        views = super()._fold(batch)
        for notification in self._outbox:
            self._deliver(notification)
        return views

    def _apply(self, view: Any, event: Event) -> Any:
        state, notifications = self.projection.apply(view, event)
        self._outbox.extend(notifications)
        return state


class SharedCatchUp:
    """Catching a runner up for many concurrent readers at once (the `query` path).

    A reader needs everything appended before it asked, so it waits for a catch-up that began
    after it arrived; readers arriving while one runs share the next. With N concurrent readers
    the log is read about twice per burst instead of N times one after another. Each partition
    is caught up on its own: a `query` waits for its recording's partition only."""

    def __init__(self, runner: ProjectionRunner) -> None:
        self.runner = runner
        self._lock = threading.Lock()
        self._shared: dict[int, _Shared] = {}

    def catch_up(self, partitions: Iterable[int] | None = None) -> None:
        """Return once the runner holds every append made before this call to these
        partitions (default: all it serves)."""
        for partition in sorted(self.runner.partitions if partitions is None else partitions):
            with self._lock:
                shared = self._shared.get(partition)
                if shared is None:
                    shared = self._shared[partition] = _Shared(self.runner, partition)
            shared.catch_up()


class _Shared:
    """One partition's shared catch-ups (see `SharedCatchUp`)."""

    def __init__(self, runner: ProjectionRunner, partition: int) -> None:
        self.runner, self.partition = runner, partition
        self._cond = threading.Condition()
        self._started = 0  # catch-ups begun
        self._done = 0  # catch-ups finished (the runner holds all they read)
        self._running = False

    def catch_up(self) -> None:
        with self._cond:
            need = self._started + 1  # one that begins after now
            while self._done < need:
                if self._running:
                    self._cond.wait()
                    continue
                self._running, self._started = True, self._started + 1
                mine = self._started
                self._cond.release()
                try:
                    self.runner.catch_up([self.partition])
                finally:
                    self._cond.acquire()
                    self._running = False
                    self._cond.notify_all()
                self._done = mine
