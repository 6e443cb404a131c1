"""The plain core of a channel actor: members, published tracks, one timeline, fan-out.

Publishers `push` encoded packets; the channel stamps each with `channel_us` (see
shared/spec/media-timing.md) and copies it into every subscriber's bounded buffer. Subscribers
(recorders) `pull` a `Batch`: packets, the current tracks and members, and the membership and
track changes since their previous pull. No clock is read here: every command takes `now_us`
or falls back to the clock the channel was built with.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Literal

from cloudrec.actors.channel.packet import Kind, MediaPacket, TrackInfo

ChangeType = Literal["joined", "left", "published", "unpublished"]
TrackKey = tuple[int, Kind]


def wall_clock_us() -> int:
    """Microseconds of UTC wall clock: the default channel clock."""
    return time.time_ns() // 1_000


def to_us(pts: int, time_base: Fraction) -> int:
    """A timestamp in its time base as whole microseconds."""
    return round(pts * time_base * 1_000_000)


@dataclass(frozen=True, slots=True)
class Change:
    """One membership or track change, on the channel timeline."""

    type: ChangeType
    uid: int
    channel_us: int
    kind: Kind | None = None  # set for published / unpublished
    generation: int = 0


@dataclass(slots=True)
class Batch:
    """What one `pull` hands a subscriber."""

    packets: list[MediaPacket]
    tracks: list[TrackInfo]
    members: list[int]
    changes: list[Change]
    dropped: int = 0  # packets this subscriber lost to its full buffer since the last pull


@dataclass(slots=True)
class _Subscriber:
    packets: deque[MediaPacket]
    changes: list[Change] = field(default_factory=list)
    dropped: int = 0
    dropped_total: int = 0


class Channel:
    """Members, tracks, per-track offsets and bounded per-subscriber buffers."""

    def __init__(
        self,
        clock: Callable[[], int] = wall_clock_us,
        buffer_packets: int = 10_000,
        share_publisher_offset: bool = False,
    ) -> None:
        self._clock = clock
        self._buffer_packets = buffer_packets
        self._share_publisher_offset = share_publisher_offset
        self._members: dict[int, int] = {}  # uid -> joined channel_us, in join order
        self._tracks: dict[TrackKey, TrackInfo] = {}
        self._generations: dict[TrackKey, int] = {}
        self._offsets: dict[TrackKey, int] = {}
        self._subscribers: dict[str, _Subscriber] = {}
        self.rejected = 0  # packets of tracks that were not published

    # -- membership ---------------------------------------------------------------------------

    def join(self, uid: int, now_us: int | None = None) -> None:
        if uid in self._members:
            return
        now = self._now(now_us)
        self._members[uid] = now
        self._record(Change("joined", uid, now))

    def leave(self, uid: int, now_us: int | None = None) -> None:
        if uid not in self._members:
            return
        now = self._now(now_us)
        for key in [key for key in self._tracks if key[0] == uid]:
            self.unpublish(*key, now_us=now)
        del self._members[uid]
        self._record(Change("left", uid, now))

    def list_members(self) -> list[int]:
        return list(self._members)

    # -- tracks -------------------------------------------------------------------------------

    def publish(self, track: TrackInfo, now_us: int | None = None) -> TrackInfo:
        """Publish (or re-publish) a track; returns it with its new generation."""
        now = self._now(now_us)
        self.join(track.uid, now)
        key = (track.uid, track.kind)
        generation = self._generations.get(key, 0) + 1
        self._generations[key] = generation
        published = replace(track, generation=generation)
        self._tracks[key] = published
        self._offsets.pop(key, None)
        self._record(Change("published", track.uid, now, track.kind, generation))
        return published

    def unpublish(self, uid: int, kind: Kind, now_us: int | None = None) -> None:
        track = self._tracks.pop((uid, kind), None)
        if track is None:
            return
        self._offsets.pop((uid, kind), None)
        self._record(Change("unpublished", uid, self._now(now_us), kind, track.generation))

    def list_tracks(self) -> list[TrackInfo]:
        return list(self._tracks.values())

    # -- media --------------------------------------------------------------------------------

    def push(self, packets: list[MediaPacket], now_us: int | None = None) -> int:
        """Stamp packets onto the channel timeline and fan them out; returns how many were kept."""
        now = self._now(now_us)
        kept = 0
        for packet in packets:
            stamped = self._stamp(packet, now)
            if stamped is None:
                self.rejected += 1
                continue
            kept += 1
            for subscriber in self._subscribers.values():
                self._enqueue(subscriber, stamped)
        return kept

    def _stamp(self, packet: MediaPacket, now: int) -> MediaPacket | None:
        key = (packet.uid, packet.kind)
        track = self._tracks.get(key)
        if track is None:
            return None
        pts_us = to_us(packet.pts, packet.time_base)
        if key not in self._offsets:
            self._offsets[key] = self._first_offset(key, now - pts_us)
        channel_us = self._offsets[key] + pts_us
        return replace(packet, channel_us=channel_us, generation=track.generation)

    def _first_offset(self, key: TrackKey, own_offset: int) -> int:
        """A track's offset; optionally shared with the publisher's other live track."""
        if self._share_publisher_offset:
            other: TrackKey = (key[0], "audio" if key[1] == "video" else "video")
            return self._offsets.get(other, own_offset)
        return own_offset

    def _enqueue(self, subscriber: _Subscriber, packet: MediaPacket) -> None:
        if len(subscriber.packets) >= self._buffer_packets:
            subscriber.packets.popleft()
            subscriber.dropped += 1
            subscriber.dropped_total += 1
        subscriber.packets.append(packet)

    # -- subscribers --------------------------------------------------------------------------

    def subscribe(self, subscriber_id: str) -> None:
        """Start buffering for a subscriber; idempotent. Its first pull carries a snapshot."""
        if subscriber_id not in self._subscribers:
            self._subscribers[subscriber_id] = _Subscriber(deque())

    def unsubscribe(self, subscriber_id: str) -> None:
        self._subscribers.pop(subscriber_id, None)

    def pull(self, subscriber_id: str, max_packets: int = 2000) -> Batch:
        subscriber = self._subscribers[subscriber_id]
        count = min(max_packets, len(subscriber.packets))
        packets = [subscriber.packets.popleft() for _ in range(count)]
        batch = Batch(
            packets=packets,
            tracks=self.list_tracks(),
            members=self.list_members(),
            changes=subscriber.changes,
            dropped=subscriber.dropped,
        )
        subscriber.changes = []
        subscriber.dropped = 0
        return batch

    def get_dropped_total(self, subscriber_id: str) -> int:
        return self._subscribers[subscriber_id].dropped_total

    # -- internals ----------------------------------------------------------------------------

    def _now(self, now_us: int | None) -> int:
        return self._clock() if now_us is None else now_us

    def _record(self, change: Change) -> None:
        for subscriber in self._subscribers.values():
            subscriber.changes.append(change)
