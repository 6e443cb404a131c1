"""The recorder shell's step, without Ray: what time it renders up to after a slow step."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from cloudrec.actors.recorder import actor as shell


class SlowCore:
    """Decoding a batch takes a second of wall clock."""

    def __init__(self, clock: dict[str, int]) -> None:
        self.clock = clock
        self.rendered: list[int] = []

    def receive(self, batch: Any) -> None:
        self.clock["now"] += 1_000_000

    def render(self, now_us: int) -> None:
        self.rendered.append(now_us)


class Channel:
    def __init__(self, clock: dict[str, int]) -> None:
        self.clock = clock
        self.pulled_at: list[int] = []

    def pull(self, subscriber: str) -> object:
        self.pulled_at.append(self.clock["now"])
        return object()


def test_a_slow_step_renders_only_up_to_the_time_of_its_pull(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendering up to the time after decoding would emit the mix for a second whose packets
    are still in the channel: the next step's audio would be dropped as late (issue 12)."""
    clock = {"now": 5_000_000}
    monkeypatch.setattr(shell, "_now_us", lambda: clock["now"])
    recorder = shell.RecorderActor()
    recorder.lock, recorder.subscriber = threading.Lock(), "rec"
    recorder.channel, recorder.core = Channel(clock), SlowCore(clock)  # type: ignore[assignment]
    recorder._step()
    recorder._step()
    assert recorder.core.rendered == recorder.channel.pulled_at == [5_000_000, 6_000_000]
