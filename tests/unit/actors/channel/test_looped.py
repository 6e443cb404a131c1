"""`Looped`: one period of packets sent again and again, each repeat one period later."""

from __future__ import annotations

from fractions import Fraction

from cloudrec.actors.channel.looped import Looped
from cloudrec.actors.channel.packet import MediaPacket

TB = Fraction(1, 1000)


def test_each_repeat_is_the_period_shifted_by_one_period() -> None:
    """Tried: a 1 s period of two packets (one with a dts) read for 3 s, in uneven steps."""
    period = [MediaPacket(1, "video", b"k", 0, TB, keyframe=True),
              MediaPacket(1, "video", b"p", 500, TB, dts=400)]
    source = Looped([], period, 1.0)
    got = source.packets_until(0.7) + source.packets_until(2.2) + source.packets_until(3.0)
    assert [(p.data, p.pts, p.dts) for p in got] == [
        (b"k", 0, None), (b"p", 500, 400), (b"k", 1000, None), (b"p", 1500, 1400),
        (b"k", 2000, None), (b"p", 2500, 2400)]
    assert source.packets_until(3.0) == []
