"""Choose an event log backend from configuration (`--events URL`)."""

from __future__ import annotations

import threading
from pathlib import Path

from cloudrec.events.embedded import EmbeddedEventLog
from cloudrec.events.log import EventLog
from cloudrec.events.memory import MemoryEventLog

DEFAULT_EVENTS = "sqlite:///.cloudrec/events.db"


def open_event_log(url: str = DEFAULT_EVENTS) -> EventLog:
    """`sqlite:///relative/or//absolute.db` (embedded, the default), `kafka://HOST:PORT[/TOPIC]`
    (Apache Kafka, see `cloudrec.events.kafka`) or `memory://`."""
    if url.startswith("memory://"):
        return MemoryEventLog()
    if url.startswith("sqlite://"):
        return EmbeddedEventLog(Path(url.removeprefix("sqlite://").removeprefix("/")))
    if url.startswith("kafka://"):
        from cloudrec.events.kafka import KafkaEventLog

        return KafkaEventLog(url)
    raise ValueError(f"unknown event log URL {url!r}: use sqlite:///path.db, kafka://HOST:PORT"
                     " or memory://")


_shared: dict[str, EventLog] = {}
_shared_lock = threading.Lock()


def shared_event_log(url: str) -> EventLog:
    """This process's one client of the log at `url`, opened on first use and kept for the
    process's life: every actor (and anything else) in a process shares it, so a process holds
    one connection and one index however many actors or sessions it serves. Never closed by
    its users; the process's end closes it."""
    with _shared_lock:
        if url not in _shared:
            _shared[url] = open_event_log(url)
        return _shared[url]
