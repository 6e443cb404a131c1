"""Recording the deliverer's outcome events in the log, off the delivery path.

`record` only queues; a thread of its own appends what is queued, grouped per session (one append
per session per round, the rounds in order, so a session's outcomes stay in order), several
sessions at once. An append that fails (the broker is away) is tried again with the same events:
the log recognises event ids it already holds, so nothing is stored twice. Until an outcome is in
the log a restarted deliverer may send that notification again, with the same `noticeId`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from cloudrec.events.envelope import Event
from cloudrec.events.log import EventLog

log = logging.getLogger("cloudrec.webhooks")


class Journal:
    def __init__(self, events: EventLog, workers: int = 4, retry_s: float = 0.5) -> None:
        self.events, self.retry_s = events, retry_s
        self._queue: queue.Queue[Event] = queue.Queue()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="webhook-journal")
        self._stopping = threading.Event()
        self._unwritten = 0
        self._written = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="webhook-journal", daemon=True)
        self._thread.start()

    def record(self, event: Event) -> None:
        with self._written:
            self._unwritten += 1
        self._queue.put(event)

    def flush(self, timeout_s: float) -> bool:
        """Wait until everything recorded so far is in the log; False on timeout."""
        with self._written:
            return self._written.wait_for(lambda: self._unwritten == 0, timeout_s)

    def close(self, timeout_s: float = 30.0) -> None:
        """Write what is queued (for up to `timeout_s`), then stop."""
        self._stopping.set()
        self._thread.join(timeout_s)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while not (self._stopping.is_set() and self._queue.empty()):
            batch = self._drain()
            if batch:
                list(self._pool.map(self._append, _per_stream(batch)))

    def _drain(self) -> list[Event]:
        try:
            batch = [self._queue.get(timeout=0.05)]
        except queue.Empty:
            return []
        while len(batch) < 1000 and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    def _append(self, events: Sequence[Event]) -> None:
        while True:
            try:
                self.events.append(events)
                break
            except Exception as error:  # the log is away: same events again, later
                log.warning("recording %d webhook outcomes failed (%s); retrying",
                            len(events), type(error).__name__)
                if self._stopping.is_set():
                    break  # not recorded: a restarted deliverer sends these notifications again
                time.sleep(self.retry_s)
        with self._written:
            self._unwritten -= len(events)
            self._written.notify_all()


def _per_stream(events: list[Event]) -> list[list[Event]]:
    streams: dict[str, list[Event]] = {}
    for event in events:
        streams.setdefault(event.stream_id, []).append(event)
    return list(streams.values())
