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
from collections.abc import Mapping
from dataclasses import dataclass, field

from cloudrec.actors.channel.packet import Kind, MediaPacket
from cloudrec.events.segment import MediaCorrupted, Problem

log = logging.getLogger(__name__)
FUTURE_US = 10_000_000  # a packet stamped further ahead of the recorder's clock is wrong
QUIET_US = 2_000_000  # a burst ends once its stream went this far on without a bad packet
STALLED_US = 10_000_000  # or once the recorder saw no bad packet of it for this long
LONGEST_US = 60_000_000  # a burst that never ends is reported once a minute

StreamKey = tuple[int, Kind]


class PacketCheck:
    """One stream's packets in order: `problem(packet, now_us)` says what is wrong, else None.

    A packet found good moves the stream's decode clock and its position (`position_us`, the
    channel time of the newest good packet) on; a bad one does not, so a single packet stamped
    far ahead does not make every later good packet look late."""

    def __init__(self) -> None:
        self.last_us: int | None = None  # decode time of the last good packet
        self.position_us: int | None = None  # channel time of the last good packet

    def problem(self, packet: MediaPacket, now_us: int | None) -> Problem | None:
        if not packet.data:
            return "empty"
        if self.last_us is not None and packet.decode_us <= self.last_us:
            return "backwards"
        if now_us is not None and packet.channel_us > now_us + FUTURE_US:
            return "future"
        self.last_us, self.position_us = packet.decode_us, packet.channel_us
        return None

    def where(self, packet: MediaPacket) -> int:
        """Where in the stream a bad `packet` was met: after the last good one (its own stamp
        may be what is wrong), or at its own stamp before any good packet."""
        return packet.channel_us if self.position_us is None else self.position_us


@dataclass
class _Burst:
    first_us: int  # the stream's position at its first bad packet
    last_us: int  # and at its last
    noted_us: int | None = None  # the recorder's clock when its last bad packet was noted
    packets: int = 0
    problems: set[Problem] = field(default_factory=set)


class CorruptionReport:
    """Bad packets per stream, gathered into bursts; `tick(now)` returns the bursts that ended.

    Bursts are measured in the stream's own media time (`PacketCheck.position_us`), not by when
    the packets arrived: a publisher that lags and then sends two bursts 2.5 s apart in one
    batch still made two bursts. A burst ends once its stream went `QUIET_US` on with no bad
    packet, once the recorder met none of it for `STALLED_US` (the stream stopped), once it
    spans `LONGEST_US`, or when the recording ends (`close`)."""

    def __init__(self, sid: str, generation: int, checks: Mapping[StreamKey, PacketCheck]
                 ) -> None:
        self.sid, self.generation, self.checks = sid, generation, checks
        self._bursts: dict[StreamKey, _Burst] = {}
        self._ended: list[tuple[StreamKey, _Burst]] = []  # split off by `note`, due at `tick`

    def note(self, key: StreamKey, problem: Problem, at_us: int) -> None:
        """A bad packet of stream `key`, met at position `at_us` of the stream."""
        burst = self._bursts.get(key)
        if burst is not None and at_us - burst.last_us >= QUIET_US:
            self._ended.append((key, self._bursts.pop(key)))
            burst = None
        if burst is None:
            burst = self._bursts[key] = _Burst(at_us, at_us)
            log.warning("uid %s %s: corrupt media (%s)", key[0], key[1], problem)
        burst.last_us = max(burst.last_us, at_us)
        burst.noted_us = None  # dated by the next tick
        burst.packets += 1
        burst.problems.add(problem)

    def tick(self, now_us: int) -> list[MediaCorrupted]:
        """Close the bursts that are over (their stream went on quietly, stopped, or too long)."""
        for burst in self._bursts.values():
            if burst.noted_us is None:
                burst.noted_us = now_us
        ended, self._ended = self._ended, []
        for key, burst in list(self._bursts.items()):
            check = self.checks.get(key)
            position = burst.last_us if check is None or check.position_us is None \
                else check.position_us
            if (position - burst.last_us >= QUIET_US or now_us - (burst.noted_us or now_us)
                    >= STALLED_US or burst.last_us - burst.first_us >= LONGEST_US):
                ended.append((key, self._bursts.pop(key)))
        return [self._event(key, burst, now_us) for key, burst in ended]

    def close(self, now_us: int) -> list[MediaCorrupted]:
        """The recording ends: every open burst is reported."""
        ended, self._ended = self._ended + list(self._bursts.items()), []
        self._bursts.clear()
        return [self._event(key, burst, now_us) for key, burst in ended]

    def _event(self, key: StreamKey, burst: _Burst, now_us: int) -> MediaCorrupted:
        return MediaCorrupted(
            stream_id=self.sid, at_ms=now_us // 1000, generation=self.generation, uid=key[0],
            track=key[1], packets=burst.packets, first_ms=burst.first_us // 1000,
            last_ms=burst.last_us // 1000, problems=sorted(burst.problems))
