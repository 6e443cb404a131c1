"""Write-behind in front of an event log, for a writer that must never wait on it.

A recorder's media thread cannot stop for a broker restart: its appends go into this outbox and a
writer thread appends them in order, retrying until the log takes them (never dropped, never
reordered). `then(action)` queues an action that runs once every append queued before it is in
the log, so "hand the file to the uploader" still comes after "the file was written" is recorded.

What changes for the caller: `append` returns the events as given (versions are assigned when
they reach the log), and `Fenced` is raised by the first `append` after the log refused one.
Appends queued one behind the other to the same stream reach the log as one (in order, still
atomic: a recorder's events share its generation, so they are fenced or taken together).
Once fenced, queued actions are skipped: they depended on appends the log refused (a zombie
recorder must not hand the uploader a file whose event is not in the log).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from cloudrec.events.envelope import Event
from cloudrec.events.log import EventLog, Fenced

log = logging.getLogger(__name__)
Item = Sequence[Event] | Callable[[], None] | threading.Event | None
MERGE_LIMIT = 200  # events in one append made of queued appends (~120 KB of JSON)


class Outbox:
    def __init__(self, events: EventLog, retry_s: float = 0.5) -> None:
        self.events, self.retry_s = events, retry_s
        self.fenced: Fenced | None = None
        self._queue: queue.Queue[Item] = queue.Queue()
        self._writer = threading.Thread(target=self._write, name="event-outbox", daemon=True)
        self._writer.start()

    def append(self, events: Sequence[Event]) -> list[Event]:
        if self.fenced is not None:
            raise self.fenced
        self._queue.put(list(events))
        return list(events)

    def then(self, action: Callable[[], None]) -> None:
        """Run `action` on the writer thread once everything queued before it is in the log."""
        self._queue.put(action)

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until everything queued so far is in the log; False on timeout."""
        done = threading.Event()
        self._queue.put(done)  # set even when fenced: a barrier, not an action
        return done.wait(timeout_s)

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[Event]:
        self.flush()
        return self.events.read_stream(stream_id, after_version)

    @property
    def partitions(self) -> int:
        return self.events.partitions

    def read_all(self, after: int = 0, limit: int = 1000,
                 partition: int = 0) -> list[tuple[int, Event]]:
        self.flush()
        return self.events.read_all(after, limit, partition)

    def read_partitions(self, after: Mapping[int, int],
                        limit: int = 1000) -> dict[int, list[tuple[int, Event]]]:
        self.flush()
        return self.events.read_partitions(after, limit)

    def close(self, close_log: bool = True) -> None:
        """Write what is queued, stop the writer, and close the log unless others share it."""
        self._queue.put(None)
        self._writer.join()
        if close_log:
            self.events.close()

    def _write(self) -> None:
        held: list[Item] = []  # an item taken from the queue while merging, not yet handled
        while (item := held.pop() if held else self._queue.get()) is not None:
            if isinstance(item, threading.Event):
                item.set()
            elif callable(item):
                if self.fenced is None:
                    self._run(item)
            elif self.fenced is None:
                self._append(self._merged(list(item), held))

    def _merged(self, events: list[Event], held: list[Item]) -> list[Event]:
        """These events and those of the appends queued right behind them to the same stream,
        as one append (up to MERGE_LIMIT events): a recorder's appends pile up while the log is
        slow or away, and one append of many costs the log about what one of one does. The
        first queued item that cannot join is put in `held`."""
        while len(events) < MERGE_LIMIT:
            try:
                following = self._queue.get_nowait()
            except queue.Empty:
                break
            if not isinstance(following, list) or (following and events and
                                                    following[0].stream_id != events[0].stream_id):
                held.append(following)
                break
            events += following
        once: dict[str, Event] = {}  # an event queued twice (a retry) is appended once
        for event in events:
            once.setdefault(event.event_id, event)
        return list(once.values())

    def _append(self, events: Sequence[Event]) -> None:
        while True:
            try:
                self.events.append(events)
                return
            except Fenced as fenced:
                self.fenced = fenced
                log.warning("outbox: %s", fenced)
                return
            except Exception as error:
                log.warning("outbox: append failed (%r), retrying in %.1f s", error, self.retry_s)
                time.sleep(self.retry_s)

    def _run(self, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception:
            log.exception("outbox: queued action failed")
