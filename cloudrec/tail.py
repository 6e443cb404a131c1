"""`cloudrec events tail`: print a log's events, one JSON object per line, as they arrive."""

from __future__ import annotations

import threading
from collections.abc import Callable

from cloudrec.events.envelope import Event
from cloudrec.events.log import EventLog


def end_of(log: EventLog) -> int:
    """The position of the last event in the log (0 when it is empty)."""
    position = 0
    while batch := log.read_all(after=position, limit=5000):
        position = batch[-1][0]
    return position


def tail(log: EventLog, write: Callable[[str], None], sid: str | None = None,
         from_beginning: bool = False, follow: bool = True, poll_s: float = 0.2,
         stop: threading.Event | None = None) -> int:
    """Write every event after the log's end (or from its beginning), then keep following
    until `stop` is set, or return at the end when `follow` is False. Returns the count."""
    stop = stop or threading.Event()
    position, written = (0 if from_beginning else end_of(log)), 0
    while True:
        batch = log.read_all(after=position)
        for _, event in batch:
            if sid in (None, event.stream_id):
                write(line(event))
                written += 1
        position = batch[-1][0] if batch else position
        if not batch and (not follow or stop.wait(poll_s)):
            return written


def line(event: Event) -> str:
    return event.model_dump_json()
