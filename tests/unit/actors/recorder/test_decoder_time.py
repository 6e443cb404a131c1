"""A packet's or frame's time in microseconds, in integer arithmetic, equals the `Fraction`
product it replaced (rounded toward zero), for the time bases publishers use and for negative
times (Opus pre-skip starts at -312 in 1/48000)."""

from __future__ import annotations

from fractions import Fraction

from cloudrec.actors.recorder.decoder import microseconds


def test_integer_microseconds_equal_the_fraction_product() -> None:
    bases = [Fraction(1, 48_000), Fraction(1, 44_100), Fraction(1, 90_000), Fraction(1, 1000),
             Fraction(1001, 30_000), Fraction(1, 15), Fraction(3, 7), Fraction(1)]
    ticks = [0, 1, -1, -312, 312, 7, -7, 2**40 + 3, -(2**40) - 3, 123_456_789]
    for base in bases:
        for tick in ticks:
            assert microseconds(tick, base) == int(tick * base * 1_000_000), (tick, base)
