"""`cloudrec events tail`: print a log's events, one JSON object per line, as they arrive."""

from __future__ import annotations

import threading
from collections.abc import Callable

from cloudrec.events.envelope import Event
from cloudrec.events.log import EventLog, partition_of


def end_of(log: EventLog, partition: int = 0) -> int:
    """The position of the partition's last event (0 when it is empty)."""
    position = 0
    while batch := log.read_all(after=position, limit=5000, partition=partition):
        position = batch[-1][0]
    return position


def tail(log: EventLog, write: Callable[[str], None], sid: str | None = None,
         from_beginning: bool = False, follow: bool = True, poll_s: float = 0.2,
         stop: threading.Event | None = None) -> int:
    """Write every event after the log's end (or from its beginning), then keep following
    until `stop` is set, or return at the end when `follow` is False. Returns the count.
    Each partition is followed from its own position (every stream's events in order; with
    `sid`, only that stream's partition is read)."""
    stop = stop or threading.Event()
    partitions = range(log.partitions) if sid is None else [partition_of(sid, log.partitions)]
    positions = {p: 0 if from_beginning else end_of(log, p) for p in partitions}
    written = 0
    while True:
        read = 0
        for partition, position in positions.items():
            batch = log.read_all(after=position, partition=partition)
            for _, event in batch:
                if sid in (None, event.stream_id):
                    write(line(event))
                    written += 1
            positions[partition], read = (batch[-1][0] if batch else position), read + len(batch)
        if not read and (not follow or stop.wait(poll_s)):
            return written


def line(event: Event) -> str:
    return event.model_dump_json()
