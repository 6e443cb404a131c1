"""Pacer: batches of ~100 ms released on a fake clock, or back to back."""

import asyncio
from fractions import Fraction

import pytest

from cloudrec.actors.channel.channel import Channel, to_us
from cloudrec.actors.channel.pacing import Pacer
from cloudrec.actors.channel.packet import MediaPacket
from cloudrec.actors.channel.synthetic import SyntheticPublisher


class Ticks:
    """A source with one packet every 20 ms of media, optionally ending."""

    def __init__(self, end_seconds: float | None = None) -> None:
        self.sent = 0
        self.end = end_seconds
        self.exhausted = False

    def packets_until(self, media_seconds: float) -> list[MediaPacket]:
        limit = media_seconds if self.end is None else min(media_seconds, self.end)
        packets = []
        while self.sent * 0.02 < limit - 1e-9:
            packets.append(MediaPacket(1, "audio", b"x", self.sent * 960, Fraction(1, 48000)))
            self.sent += 1
        self.exhausted = self.end is not None and media_seconds >= self.end
        return packets


class FakeClock:
    def __init__(self, start: float = 100.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_batches_are_released_on_time() -> None:
    clock = FakeClock()
    pacer = Pacer(Ticks(), clock=clock, sleep=clock.sleep)
    released = []
    for batch in pacer.batches(until_seconds=0.5):
        released.append((round(clock.now - 100.0, 6), [round(p.seconds, 3) for p in batch]))
    assert [at for at, _ in released] == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert released[0][1] == [0.0, 0.02, 0.04, 0.06, 0.08]
    assert all(len(batch) == 5 for _, batch in released)
    for at, batch in released:
        assert all(seconds < at for seconds in batch)  # never sent before its time


def test_a_slow_consumer_catches_up_without_sleeping() -> None:
    clock = FakeClock()
    pacer = Pacer(Ticks(), clock=clock, sleep=clock.sleep)
    batches = pacer.batches(until_seconds=1.0)
    next(batches)
    clock.now += 0.35  # the consumer took 350 ms with one batch
    assert pacer.due_in() == 0.0
    next(batches), next(batches), next(batches)
    assert clock.slept[-3:] == [0.0, 0.0, 0.0]
    next(batches)
    assert clock.slept[-1] == pytest.approx(0.05)


def test_not_realtime_never_sleeps() -> None:
    clock = FakeClock()
    pacer = Pacer(Ticks(), realtime=False, clock=clock, sleep=clock.sleep)
    packets = [p for batch in pacer.batches(until_seconds=2.0) for p in batch]
    assert len(packets) == 100 and set(clock.slept) == {0.0}
    assert pacer.media_seconds == 2.0


def test_stops_when_the_source_is_exhausted() -> None:
    pacer = Pacer(Ticks(end_seconds=0.25), realtime=False)
    batches = list(pacer.batches())
    assert [len(b) for b in batches] == [5, 5, 3]


def test_until_cuts_the_last_batch_short() -> None:
    pacer = Pacer(Ticks(), realtime=False, batch_seconds=0.1)
    batches = list(pacer.batches(until_seconds=0.25))
    assert [len(b) for b in batches] == [5, 5, 3]
    assert pacer.media_seconds == 0.25


def test_async_batches_wait_with_the_given_sleep() -> None:
    clock = FakeClock()

    async def sleep(seconds: float) -> None:
        clock.sleep(seconds)

    async def collect() -> list[int]:
        pacer = Pacer(Ticks(), clock=clock)
        return [len(b) async for b in pacer.abatches(until_seconds=0.3, sleep=sleep)]

    assert asyncio.run(collect()) == [5, 5, 5]
    assert clock.now == pytest.approx(100.3)


def test_paced_synthetic_publisher_lands_on_one_channel_timeline() -> None:
    clock = FakeClock(start=0.0)
    channel = Channel(clock=lambda: round(clock.now * 1e6), share_publisher_offset=True)
    channel.subscribe("rec")
    source = SyntheticPublisher(uid=1, color=(255, 0, 0), tone_hz=300, width=64, height=48)
    for track in source.tracks():
        channel.publish(track)
    for batch in Pacer(source, clock=clock, sleep=clock.sleep).batches(until_seconds=1.0):
        channel.push(batch)
    packets = channel.pull("rec").packets
    assert {p.kind for p in packets} == {"audio", "video"} and len(packets) == 15 + 50
    first = packets[0]  # the earliest packet arrived with the first batch, at 0.1 s
    assert first.channel_us == 100_000
    for p in packets:  # audio and video keep their media-time relation exactly
        assert p.channel_us - first.channel_us == to_us(p.pts, p.time_base) - to_us(
            first.pts, first.time_base
        )
