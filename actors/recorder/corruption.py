"""Corrupt media from a publisher (R5): which packets a recorder skips, and how it reports them.

A publisher may send garbage, truncated or empty packets, or stamp them wrongly. None of that may
stop the recorder or its other users: each core checks a packet (`PacketCheck`) before using it,
skips a bad one, and tells the `CorruptionReport`, which turns the bad packets of one stream into
one `MediaCorrupted` event per burst (callback 2, spec §15), not one per packet.

The checks need no decoding: an empty packet (an empty packet is a decoder's flush request: after
it the decoder answers every packet with end-of-file, and the user's picture would freeze), a
decode time not after the previous packet's (a TS or WebM needs increasing decode times), and a
time far ahead of the channel clock (which would hold back every later packet of the stream until
the clock got there). Undecodable and unwritable packets are reported by the stage that found them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from cloudrec.actors.channel.packet import Kind, MediaPacket
from cloudrec.events.segment import MediaCorrupted, Problem

log = logging.getLogger(__name__)
FUTURE_US = 10_000_000  # a packet stamped further ahead of the recorder's clock is wrong
QUIET_US = 2_000_000  # a burst ends after this long without a bad packet
LONGEST_US = 60_000_000  # a burst that never ends is reported once a minute

StreamKey = tuple[int, Kind]


class PacketCheck:
    """One stream's packets in order: `problem(packet, now_us)` says what is wrong, else None.

    A packet found good moves the stream's decode clock on; a bad one does not, so a single
    packet stamped far ahead does not make every later good packet look late."""

    def __init__(self) -> None:
        self.last_us: int | None = None  # decode time of the last good packet

    def problem(self, packet: MediaPacket, now_us: int | None) -> Problem | None:
        if not packet.data:
            return "empty"
        if self.last_us is not None and packet.decode_us <= self.last_us:
            return "backwards"
        if now_us is not None and packet.channel_us > now_us + FUTURE_US:
            return "future"
        self.last_us = packet.decode_us
        return None


@dataclass
class _Burst:
    first_us: int
    last_us: int
    packets: int = 0
    problems: set[Problem] = field(default_factory=set)


class CorruptionReport:
    """Bad packets per stream, gathered into bursts; `tick(now)` returns the bursts that ended.

    `note` may be called without a clock (while a batch is received); the packets noted since
    the last tick are dated at the next one."""

    def __init__(self, sid: str, generation: int) -> None:
        self.sid, self.generation = sid, generation
        self._pending: dict[StreamKey, _Burst] = {}  # noted, not yet dated
        self._bursts: dict[StreamKey, _Burst] = {}

    def note(self, key: StreamKey, problem: Problem) -> None:
        pending = self._pending.setdefault(key, _Burst(0, 0))
        pending.packets += 1
        pending.problems.add(problem)

    def tick(self, now_us: int) -> list[MediaCorrupted]:
        """Date what was noted, and close the bursts that are over (quiet or too long)."""
        self._date(now_us)
        ended = [key for key, burst in self._bursts.items()
                 if now_us - burst.last_us >= QUIET_US or now_us - burst.first_us >= LONGEST_US]
        return [self._event(key, self._bursts.pop(key), now_us) for key in ended]

    def close(self, now_us: int) -> list[MediaCorrupted]:
        """The recording ends: every open burst is reported."""
        self._date(now_us)
        return [self._event(key, self._bursts.pop(key), now_us) for key in list(self._bursts)]

    def _date(self, now_us: int) -> None:
        for key, pending in self._pending.items():
            burst = self._bursts.setdefault(key, _Burst(now_us, now_us))
            if not burst.packets:
                log.warning("uid %s %s: corrupt media (%s)", key[0], key[1],
                            ", ".join(sorted(pending.problems)))
            burst.last_us = now_us
            burst.packets += pending.packets
            burst.problems |= pending.problems
        self._pending.clear()

    def _event(self, key: StreamKey, burst: _Burst, now_us: int) -> MediaCorrupted:
        return MediaCorrupted(
            stream_id=self.sid, at_ms=max(now_us, burst.last_us) // 1000,
            generation=self.generation, uid=key[0], track=key[1], packets=burst.packets,
            first_ms=burst.first_us // 1000, last_ms=burst.last_us // 1000,
            problems=sorted(burst.problems))
