"""A source that sends one period of encoded packets again and again, each repeat one period
later: a live publisher for as long as it is read, at the cost of encoding the period once.

The period must start with a key frame and hold whole GOPs of video and whole audio frames, so a
repeat decodes like the original (used by the 10-minute sync tests and `bench/capacity.py`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace

from cloudrec.actors.channel.packet import MediaPacket, TrackInfo


class Looped:
    def __init__(self, tracks: list[TrackInfo], packets: list[MediaPacket],
                 period_s: float) -> None:
        self._tracks, self._period, self.period_s = tracks, packets, period_s
        self._repeats = self._forever()
        self._next = next(self._repeats)

    def tracks(self) -> list[TrackInfo]:
        return self._tracks

    def packets_until(self, media_seconds: float) -> list[MediaPacket]:
        packets = []
        while self._next.seconds < media_seconds:
            packets.append(self._next)
            self._next = next(self._repeats)
        return packets

    def _forever(self) -> Iterator[MediaPacket]:
        for n in itertools.count():
            for p in self._period:
                shift = round(n * self.period_s / p.time_base)
                yield replace(p, pts=p.pts + shift, dts=None if p.dts is None else p.dts + shift)
