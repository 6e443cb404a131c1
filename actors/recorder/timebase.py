"""One place to move timestamps between time bases; the 17-digit UTC form of names and tags.

Every media stage carries `pts` with a `time_base`; crossing from one to another goes through
`convert` (PyAV stage contract, aiortc `convert_timebase`), never through frame counting.
"""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

MILLISECONDS = Fraction(1, 1000)


def convert(value: int | float | Fraction, from_tb: Fraction, to_tb: Fraction) -> int:
    """`value` ticks of `from_tb` as the nearest whole number of `to_tb` ticks."""
    return round(Fraction(value) * from_tb / to_tb)


def utc17(ms: int) -> str:
    """UTC milliseconds since the epoch as `YYYYMMDDhhmmssSSS` (spec decision 3)."""
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return f"{moment:%Y%m%d%H%M%S}{ms % 1000:03d}"
