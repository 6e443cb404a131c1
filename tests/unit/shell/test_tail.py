"""`cloudrec events tail`: from the end by default, from the beginning on request, by sid."""

from __future__ import annotations

import json
import threading
import time

from cloudrec.events.memory import MemoryEventLog
from cloudrec.tail import tail

from ..events.contract import slice_event


def test_from_the_beginning_filtered_by_sid() -> None:
    log, lines = MemoryEventLog(), []
    log.append([slice_event("a", 0), slice_event("a", 1)])
    log.append([slice_event("b", 0)])
    assert tail(log, lines.append, sid="a", from_beginning=True, follow=False) == 2
    assert [json.loads(x)["index"] for x in lines] == [0, 1]


def test_follows_from_the_end_as_events_arrive() -> None:
    log, lines, stop = MemoryEventLog(), [], threading.Event()
    log.append([slice_event("a", 0)])  # before the tail started: not printed
    follower = threading.Thread(target=tail, args=(log, lines.append),
                                kwargs={"poll_s": 0.01, "stop": stop})
    follower.start()
    time.sleep(0.1)
    log.append([slice_event("a", 1)])
    deadline = time.monotonic() + 5
    while not lines and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    follower.join(5)
    assert [json.loads(x)["index"] for x in lines] == [1]
