"""Write-behind: appends in order, retried until taken, actions after the appends before them."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from cloudrec.events.envelope import Event
from cloudrec.events.log import Fenced
from cloudrec.events.memory import MemoryEventLog
from cloudrec.events.outbox import Outbox

from .contract import slice_event


class FlakyLog(MemoryEventLog):
    """Refuses the first `failures` appends, like a log whose broker is restarting."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def append(self, events: Sequence[Event]) -> list[Event]:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker away")
        return super().append(events)


def test_appends_are_retried_in_order_and_actions_wait_for_them() -> None:
    log, trail = FlakyLog(failures=3), []
    outbox = Outbox(log, retry_s=0.01)
    outbox.append([slice_event("a", 0)])
    outbox.then(lambda: trail.append(len(log.read_stream("a"))))
    outbox.append([slice_event("a", 1)])
    assert outbox.flush(10)
    assert [e.index for e in log.read_stream("a")] == [0, 1]  # type: ignore[attr-defined]
    assert trail == [1]  # ran after the append queued before it, before the one after
    outbox.close()


def test_a_fenced_append_is_reported_by_the_next_append() -> None:
    log = MemoryEventLog()
    log.append([slice_event("a", 0, generation=2)])
    outbox = Outbox(log)
    outbox.append([slice_event("a", 1, generation=1)])
    outbox.flush(10)
    with pytest.raises(Fenced):
        outbox.append([slice_event("a", 2, generation=1)])
    assert len(outbox.read_stream("a")) == 1


def test_once_fenced_queued_actions_are_skipped_but_flush_returns() -> None:
    """A zombie recorder: its file's event was refused, so the file must not be handed on."""
    log, handed = MemoryEventLog(), []
    log.append([slice_event("a", 0, generation=2)])
    outbox = Outbox(log)
    outbox.append([slice_event("a", 1, generation=1)])
    outbox.then(lambda: handed.append("a1.ts"))
    assert outbox.flush(10)
    assert handed == [] and outbox.fenced is not None


class SlowLog(MemoryEventLog):
    """Takes 20 ms per append, like a broker's round trip; counts the appends it got."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def append(self, events: Sequence[Event]) -> list[Event]:
        import time

        self.calls += 1
        time.sleep(0.02)
        return super().append(events)


def test_appends_queued_behind_a_slow_one_reach_the_log_together_in_order() -> None:
    """What is tried: 100 appends to one stream queued at once behind a slow log, an action
    and an append to another stream among them. The log gets a few merged appends, every event
    once and in order, and the action still runs after exactly the appends queued before it."""
    log, trail = SlowLog(), []
    outbox = Outbox(log)
    for i in range(60):
        outbox.append([slice_event("a", i)])
    outbox.then(lambda: trail.append(len(log.read_stream("a"))))
    outbox.append([slice_event("b", 0)])
    for i in range(60, 100):
        outbox.append([slice_event("a", i)])
    assert outbox.flush(10)
    assert [e.index for e in log.read_stream("a")] == list(range(100))  # type: ignore[attr-defined]
    assert [e.version for e in log.read_stream("a")] == list(range(1, 101))
    assert trail == [60] and len(log.read_stream("b")) == 1
    assert log.calls <= 6  # 101 appends: the first alone, the rest merged up to each boundary
    outbox.close()


def test_an_event_queued_twice_is_appended_once_when_merged() -> None:
    """A caller retrying an append through the outbox queues the same event again; merged
    with it, the log would get one event named twice (refused: the queue would retry it
    forever). Tried behind a slow log: the second copy is dropped, every event stored once."""
    log = SlowLog()
    outbox = Outbox(log)
    again = slice_event("a", 1)
    outbox.append([slice_event("a", 0)])
    outbox.append([again])
    outbox.append([again, slice_event("a", 2)])
    assert outbox.flush(10)
    assert [e.index for e in log.read_stream("a")] == [0, 1, 2]  # type: ignore[attr-defined]
    outbox.close()
