"""Stretches of UTC time and the output timeline laid over them.

A user is *present* while any of their slices (of the kinds an output holds) covers the time.
Presence spans closer than `JOIN` seconds are one span (slice boundaries are rounded to
milliseconds); a recording segment (§13.3) ends when a user is absent for more than `SEGMENT_GAP`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

from .tracks import Slice

Span = tuple[float, float]
JOIN = 0.5  # seconds: shorter absences are slice-boundary rounding, not absence
SEGMENT_GAP = 15.0  # seconds: a longer absence ends a recording segment (-m 0)
EDGE = 0.05  # seconds: frames this far outside a span still belong to it


def presence(slices: Iterable[Slice], join: float = JOIN) -> list[Span]:
    """The union of the slices' time spans, joining spans less than `join` seconds apart."""
    spans: list[Span] = []
    for start, end in sorted((s.start, s.end) for s in slices):
        if spans and start - spans[-1][1] <= join:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


class Timeline:
    """Maps UTC seconds onto seconds of one output file that keeps only `spans`, back to back."""

    def __init__(self, spans: list[Span]) -> None:
        if not spans:
            raise ValueError("a timeline needs at least one span")
        self.spans = spans
        self._starts = [start for start, _ in spans]
        self._offsets = [0.0]
        for start, end in spans:
            self._offsets.append(self._offsets[-1] + end - start)

    @property
    def start(self) -> float:
        return self.spans[0][0]

    @property
    def duration(self) -> float:
        return self._offsets[-1]

    def position(self, utc: float) -> float | None:
        """Output seconds of UTC time `utc`, or None when it falls in a dropped stretch."""
        index = max(bisect_right(self._starts, utc + EDGE) - 1, 0)
        start, end = self.spans[index]
        if utc < start - EDGE or utc > end + EDGE:
            return None
        return self._offsets[index] + min(max(utc - start, 0.0), end - start)

    def covers(self, piece: Slice) -> bool:
        return any(piece.start < end and piece.end > start for start, end in self.spans)
