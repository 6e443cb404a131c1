"""Publishers that cost (almost) nothing: a few seconds of packets encoded once, then looped.

`bench/capacity.py` measures the recorders; real-time x264 encoders for 100 publishers would take
the two cores it measures them on. So each synthetic user's packets are encoded once for one
`PERIOD_S` (whole GOPs of video, whole 20 ms Opus frames) and sent again and again with later
timestamps (`cloudrec.actors.channel.looped`): a repeat decodes like the original. `Crowd`
pushes every user of a channel from one thread, one push per 100 ms (as
tests/integration/media.py's `Crowd`), so a channel costs one Ray call per 100 ms to feed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from cloudrec.actors.channel import looped as channel_looped
from cloudrec.actors.channel.handle import ChannelHandle
from cloudrec.actors.channel.pacing import Pacer
from cloudrec.actors.channel.packet import MediaPacket, TrackInfo
from cloudrec.actors.channel.synthetic import SyntheticPublisher, synthetic_publishers

PERIOD_S = 4  # a whole number of 1 s GOPs and of 20 ms audio frames


@dataclass(frozen=True)
class Period:
    """One user's first PERIOD_S of packets, with the publisher that made them."""

    publisher: SyntheticPublisher
    tracks: list[TrackInfo]
    packets: list[MediaPacket]

    def as_uid(self, uid: int) -> Period:
        """The same media published by another user (uid replaced in tracks and packets)."""
        return Period(self.publisher, [replace(t, uid=uid) for t in self.tracks],
                      [replace(p, uid=uid) for p in self.packets])


def periods(users: int, width: int, height: int, fps: int) -> list[Period]:
    """`users` distinct publishers (colour, tone), each encoded for one period only."""
    made = []
    for publisher in synthetic_publishers(users, width=width, height=height, fps=fps):
        packets = publisher.packets_until(PERIOD_S + 1)  # past the end: the encoder's delay
        audio0 = min(p.pts for p in packets if p.kind == "audio")
        kept = [p for p in packets if _in_period(p, audio0)]
        made.append(Period(publisher, publisher.tracks(), kept))
    return made


def _in_period(packet: MediaPacket, audio0: int) -> bool:
    first = audio0 if packet.kind == "audio" else 0  # Opus starts at -312 (pre-skip)
    return (packet.pts - first) * packet.time_base < PERIOD_S


class Looped(channel_looped.Looped):
    """A user's period sent again and again, each repeat PERIOD_S later: a live source, for ever."""

    def __init__(self, period: Period) -> None:
        super().__init__(period.tracks, period.packets, PERIOD_S)


class Crowd:
    """Every user of one channel, published from one thread: join, publish, then one push of
    everyone's packets per 100 ms of media, in real time, until `stop`."""

    def __init__(self, channel: ChannelHandle, sources: list[Looped]) -> None:
        self.channel, self.sources = channel, sources
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def packets_until(self, media_seconds: float) -> list[MediaPacket]:
        return [p for s in self.sources for p in s.packets_until(media_seconds)]

    def start(self) -> None:
        for source in self.sources:
            self.channel.join(source.tracks()[0].uid)
            for track in source.tracks():
                self.channel.publish(track)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        for source in self.sources:
            self.channel.leave(source.tracks()[0].uid)

    def _run(self) -> None:
        for packets in Pacer(self).batches():
            if self.stop.is_set():
                return
            if packets:
                self._push(packets)

    def _push(self, packets: list[MediaPacket]) -> None:
        """A failed push is reported and publishing goes on (the thread would end silently)."""
        try:
            self.channel.push(packets)
        except Exception as error:  # a channel bug or a lost channel: the step shows it
            print(f"  push failed: {type(error).__name__}: {str(error).splitlines()[-1]}")
