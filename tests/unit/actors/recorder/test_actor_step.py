"""The recorder shell's step, without Ray: what time it renders up to after a slow step."""

from __future__ import annotations

import threading
from fractions import Fraction
from typing import Any

import pytest

from cloudrec.actors.channel.channel import Batch
from cloudrec.actors.channel.packet import MediaPacket
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

    def pull(self, subscriber: str) -> Batch:
        self.pulled_at.append(self.clock["now"])
        return Batch(packets=[], tracks=[], members=[], changes=[])


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


class Backlog(Channel):
    """A channel holding 3 s of packets for a recorder that fell behind: each pull is capped
    at one second of them, the rest still waiting."""

    def __init__(self, clock: dict[str, int]) -> None:
        super().__init__(clock)
        self.waiting = [clock["now"] - 3_000_000 + i * 20_000 for i in range(150)]

    def pull(self, subscriber: str) -> Batch:
        self.pulled_at.append(self.clock["now"])
        taken, self.waiting = self.waiting[:50], self.waiting[50:]
        packets = [MediaPacket(1, "audio", b"x", 0, Fraction(1, 48_000), channel_us=t)
                   for t in taken]
        return Batch(packets=packets, tracks=[], members=[], changes=[],
                     pending=len(self.waiting))


def test_a_capped_pull_renders_only_up_to_its_newest_packet(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Tried: a starved recorder 3 s behind, its pulls capped at 1 s of packets. Rendering to
    the wall clock after the first pull would emit 2 s of mix whose packets are still waiting,
    dropping them as late; it renders up to each batch's newest packet until it has caught up."""
    clock = {"now": 10_000_000}
    monkeypatch.setattr(shell, "_now_us", lambda: clock["now"])
    recorder = shell.RecorderActor()
    recorder.lock, recorder.subscriber = threading.Lock(), "rec"
    recorder.channel, recorder.core = Backlog(clock), SlowCore(clock)  # type: ignore[assignment]
    for _ in range(3):
        recorder._step()
    first_pull = recorder.channel.pulled_at[0]
    assert recorder.core.rendered == [first_pull - 2_020_000, first_pull - 1_020_000,
                                      recorder.channel.pulled_at[2]]
