"""Generic runners: read the log, fold a projection per stream, store views with their position.

A projection is any module or object with `initial(stream_id)` and `apply(view, event)`. Per batch
read from the log, the runner folds each stream's events into its stored view and saves the changed
views together with the batch's last log position in ONE store write. Positions at or below the
saved one are treated as already done, so a redelivered batch is a no-op and ignored events still
advance the position.

Order of effects per batch (quixstreams checkpoint order, style rule 7):
1. side effects: `CallbackRunner` hands every notification to `deliver` (at least once; a crash
   before step 2 redelivers the same notifications with the same `noticeId`s);
2. views + position, in one `ViewStore.save`;
3. the log offset commit (`commit(position)`, e.g. a Kafka consumer commit; the embedded log needs
   none because the stored position is the offset).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from cloudrec.events.envelope import Event
from cloudrec.events.log import EventLog

Batch = Sequence[tuple[int, Event]]


class Projection(Protocol):
    def initial(self, sid: str) -> Any: ...

    def apply(self, view: Any, event: Event) -> Any: ...


class ViewStore(Protocol):
    def position(self) -> int: ...

    def get(self, stream_id: str) -> Any | None: ...

    def save(self, views: Mapping[str, Any], position: int) -> None:
        """Store the views and the position atomically (same write)."""


class MemoryViewStore:
    def __init__(self) -> None:
        self._views: dict[str, Any] = {}
        self._position = 0
        self._lock = threading.Lock()

    def position(self) -> int:
        with self._lock:
            return self._position

    def get(self, stream_id: str) -> Any | None:
        with self._lock:
            return self._views.get(stream_id)

    def save(self, views: Mapping[str, Any], position: int) -> None:
        with self._lock:
            self._views.update(views)
            self._position = max(self._position, position)


class ProjectionRunner:
    def __init__(
        self,
        log: EventLog,
        projection: Projection,
        store: ViewStore,
        commit: Callable[[int], None] | None = None,
        batch_size: int = 1000,
    ) -> None:
        self.log, self.projection, self.store = log, projection, store
        self._commit = commit
        self._batch_size = batch_size

    def view(self, stream_id: str) -> Any:
        stored = self.store.get(stream_id)
        return self.projection.initial(stream_id) if stored is None else stored

    def catch_up(self) -> int:
        """Process everything in the log after the stored position, up to its end as of the
        last read (a batch shorter than the limit reached it, so no read after it: while
        appends keep coming, a log whose reads are slow was followed for ever); return the new
        position."""
        while batch := self.log.read_all(after=self.store.position(), limit=self._batch_size):
            self.process(batch)
            if len(batch) < self._batch_size:
                break
        return self.store.position()

    def wait_for(self, position: int, timeout: float, poll_s: float = 0.01) -> bool:
        """Catch up until the stored position reaches `position`; False on timeout."""
        deadline = time.monotonic() + timeout
        while self.catch_up() < position:
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_s)
        return True

    def process(self, batch: Batch) -> int:
        """Apply one batch (redelivered positions skipped), then save, then commit."""
        done = self.store.position()
        fresh = [(position, event) for position, event in batch if position > done]
        if not fresh:
            return done
        views = self._fold(fresh)
        position = fresh[-1][0]
        self.store.save(views, position)
        if self._commit is not None:
            self._commit(position)
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
        commit: Callable[[int], None] | None = None,
        batch_size: int = 1000,
    ) -> None:
        super().__init__(log, projection, store, commit, batch_size)
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
    the log is read about twice per burst instead of N times one after another."""

    def __init__(self, runner: ProjectionRunner) -> None:
        self.runner = runner
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
                    self.runner.catch_up()
                finally:
                    self._cond.acquire()
                    self._running = False
                    self._cond.notify_all()
                self._done = mine
