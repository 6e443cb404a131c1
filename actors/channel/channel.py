"""The plain core of a channel actor: members, published tracks, one timeline, fan-out.

Publishers `push` encoded packets; the channel stamps each with `channel_us` (see
shared/spec/media-timing.md) and copies it into every subscriber's bounded buffer. Subscribers
(recorders) `pull` a `Batch`: packets, the current tracks and members, and the membership and
track changes since their previous pull. No clock is read here: every command takes `now_us`
or falls back to the clock the channel was built with.

The channel also keeps a short history of each live track, so that a subscriber replacing a dead
one (a recorder failover) can `subscribe` with `replay_from_us` and start from recent packets.

A dual-stream sender's video is two tracks, its high and its low layer; each subscriber names the
layer it wants and is handed one of them (`layers.shown`): its packets, its `TrackInfo` and its
changes. A user's video generation counts the publishes of both layers, so a subscriber handed
another layer of it (the low one unpublished: back to the high) sees a new generation.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Literal

from cloudrec.actors.channel.layers import LayerKey, check_layer, key_of, shown
from cloudrec.actors.channel.packet import HIGH, Kind, MediaPacket, TrackInfo

ChangeType = Literal["joined", "left", "published", "unpublished"]
TrackKey = tuple[int, Kind]  # (uid, kind): a user's track as one subscriber receives it
Arrival = tuple[int, MediaPacket]  # (channel-wide arrival number, stamped packet)


def wall_clock_us() -> int:
    """Microseconds of UTC wall clock: the default channel clock."""
    return time.time_ns() // 1_000


def to_us(pts: int, time_base: Fraction) -> int:
    """A timestamp in its time base as whole microseconds."""
    return round(pts * time_base * 1_000_000)


def replay_track(arrivals: list[Arrival], from_us: int) -> list[Arrival]:
    """What of one track's history a replay from `from_us` hands on: audio from `from_us`,
    video from a key frame so that it decodes (see `video_replay_start`)."""
    if arrivals and arrivals[0][1].kind == "audio":
        return [arrival for arrival in arrivals if arrival[1].channel_us >= from_us]
    return arrivals[video_replay_start(arrivals, from_us):]


def video_replay_start(arrivals: list[Arrival], from_us: int) -> int:
    """Index of the last key frame at or before `from_us`, else of the first key frame after it,
    else (no key frame kept) of the first packet from `from_us`."""
    keys = [i for i, (_, packet) in enumerate(arrivals) if packet.keyframe]
    before = [i for i in keys if arrivals[i][1].channel_us <= from_us]
    after = [i for i in keys if arrivals[i][1].channel_us > from_us]
    starts = before[-1:] or after[:1]
    if starts:
        return starts[0]
    late = (i for i, (_, packet) in enumerate(arrivals) if packet.channel_us >= from_us)
    return next(late, len(arrivals))


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
    pending: int = 0  # packets left in its buffer: the pull was capped, more is waiting

    def covered_until(self, now_us: int) -> int:
        """How far this batch lets a subscriber go: `now_us`, or when packets are still waiting
        behind a capped pull, the channel time of the newest packet it holds (the rest of the
        time up to now is in the next pull, not missing)."""
        if not self.pending or not self.packets:
            return now_us
        return min(now_us, max(packet.channel_us for packet in self.packets))

    def parts(self, span_us: int) -> list[Batch]:
        """This batch cut into consecutive parts of at most `span_us` of channel time each (a
        burst, e.g. a new recorder's history), for a subscriber that decodes and renders one
        part before the next: it then holds a part's decoded pictures, not the whole burst's.
        Every part but the last says more is pending (`covered_until` stops at its newest
        packet); the last keeps this batch's `pending`; `dropped` goes with the first."""
        if not self.packets or self.packets[-1].channel_us - self.packets[0].channel_us <= span_us:
            return [self]
        cuts: list[list[MediaPacket]] = [[]]
        start = self.packets[0].channel_us
        for packet in self.packets:
            if packet.channel_us - start > span_us and cuts[-1]:
                cuts.append([])
                start = packet.channel_us
            cuts[-1].append(packet)
        last = len(cuts) - 1
        return [Batch(packets, self.tracks, self.members, self.changes if i == 0 else [],
                      self.dropped if i == 0 else 0, self.pending if i == last else len(
                          self.packets)) for i, packets in enumerate(cuts)]


@dataclass(slots=True)
class _Subscriber:
    packets: deque[MediaPacket]
    layer: int = HIGH  # the video layer it receives (`layers.shown`)
    seen_us: int = 0  # when it last subscribed or pulled
    changes: list[Change] = field(default_factory=list)
    dropped: int = 0
    dropped_total: int = 0


class Channel:
    """Members, tracks, per-track offsets and history, bounded per-subscriber buffers."""

    def __init__(
        self,
        clock: Callable[[], int] = wall_clock_us,
        buffer_packets: int = 10_000,
        share_publisher_offset: bool = False,
        history_us: int = 10_000_000,
        history_packets: int = 5_000,
    ) -> None:
        self._clock = clock
        self._buffer_packets = buffer_packets
        self._share_publisher_offset = share_publisher_offset
        self._history_us = history_us
        self._history_packets = history_packets
        self._members: dict[int, int] = {}  # uid -> joined channel_us, in join order
        self._tracks: dict[LayerKey, TrackInfo] = {}
        self._generations: dict[TrackKey, int] = {}  # of both layers of a video
        self._offsets: dict[LayerKey, int] = {}
        self._subscribers: dict[str, _Subscriber] = {}
        self._history: dict[LayerKey, deque[Arrival]] = {}  # of the current generations only
        self._arrivals = 0  # packets kept so far: orders history across tracks
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
        for key in sorted((key for key in self._tracks if key[0] == uid), key=_high_first):
            self._unpublish(key, now)
        del self._members[uid]
        self._record(Change("left", uid, now))

    def list_members(self) -> list[int]:
        return list(self._members)

    def occupied(self) -> bool:
        """Someone is in the channel or reads from it."""
        return bool(self._members or self._subscribers)

    # -- tracks -------------------------------------------------------------------------------

    def publish(self, track: TrackInfo, now_us: int | None = None) -> TrackInfo:
        """Publish (or re-publish) a track or video layer; returns it with its new generation.
        A dual-stream sender publishes its low layer first: a subscriber of the low layers
        then never starts on the high one in between."""
        check_layer(track)
        now = self._now(now_us)
        self.join(track.uid, now)
        key = key_of(track)
        generation = self._generations.get((track.uid, track.kind), 0) + 1
        self._generations[(track.uid, track.kind)] = generation
        published = replace(track, generation=generation)
        self._tracks[key] = published
        self._offsets.pop(key, None)
        self._history.pop(key, None)
        self._record(Change("published", track.uid, now, track.kind, generation), key)
        return published

    def unpublish(self, uid: int, kind: Kind, now_us: int | None = None,
                  layer: int | None = None) -> None:
        """Unpublish one layer of a track, or (`layer` None) every layer of it."""
        keys = [key for key in self._tracks if key[:2] == (uid, kind)]
        for key in sorted(keys, key=_high_first):
            if layer is None or key[2] == layer:
                self._unpublish(key, self._now(now_us))

    def _unpublish(self, key: LayerKey, now: int) -> None:
        generation = self._tracks[key].generation
        self._record(Change("unpublished", key[0], now, key[1], generation), key)
        del self._tracks[key]
        self._offsets.pop(key, None)
        self._history.pop(key, None)

    def list_tracks(self, video_layer: int | None = None) -> list[TrackInfo]:
        """Every published track, or those a subscriber of `video_layer` receives."""
        return [track for key, track in self._tracks.items()
                if video_layer is None or shown(key, video_layer, self._tracks)]

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
            self._remember(stamped)
            for subscriber in self._subscribers.values():
                if shown(key_of(stamped), subscriber.layer, self._tracks):
                    self._enqueue(subscriber, stamped)
        return kept

    def _stamp(self, packet: MediaPacket, now: int) -> MediaPacket | None:
        key = key_of(packet)
        track = self._tracks.get(key)
        if track is None:
            return None
        pts_us = to_us(packet.pts, packet.time_base)
        if key not in self._offsets:
            self._offsets[key] = self._first_offset(key, now - pts_us)
        channel_us = self._offsets[key] + pts_us
        return replace(packet, channel_us=channel_us, generation=track.generation)

    def _first_offset(self, key: LayerKey, own_offset: int) -> int:
        """A track's offset: its other video layer's (the same timestamps); optionally shared
        with the publisher's other live track."""
        uid, kind, _ = key
        mates = [offset for (u, k, _), offset in self._offsets.items()
                 if u == uid and (k == kind or self._share_publisher_offset)]
        return mates[0] if mates else own_offset

    def _remember(self, packet: MediaPacket) -> None:
        """Append to the track's history; keep `history_us` behind its newest packet."""
        self._arrivals += 1
        key = key_of(packet)
        history = self._history.setdefault(key, deque(maxlen=self._history_packets))
        history.append((self._arrivals, packet))
        while history[0][1].channel_us < packet.channel_us - self._history_us:
            history.popleft()

    def _replay(self, from_us: int, video_layer: int) -> list[MediaPacket]:
        """The history from `from_us` (`replay_track`) of every current track a subscriber of
        `video_layer` receives, in arrival order."""
        arrivals = [arrival for key, history in self._history.items()
                    if shown(key, video_layer, self._tracks)
                    for arrival in replay_track(list(history), from_us)]
        return [packet for _, packet in sorted(arrivals, key=lambda arrival: arrival[0])]

    def _enqueue(self, subscriber: _Subscriber, packet: MediaPacket) -> None:
        if len(subscriber.packets) >= self._buffer_packets:
            subscriber.packets.popleft()
            subscriber.dropped += 1
            subscriber.dropped_total += 1
        subscriber.packets.append(packet)

    # -- subscribers --------------------------------------------------------------------------

    def subscribe(self, subscriber_id: str, replay_from_us: int | None = None,
                  now_us: int | None = None, video_layer: int = HIGH) -> None:
        """Start buffering for a subscriber of `video_layer`; idempotent. Its first pull carries
        a snapshot.

        With `replay_from_us` its buffer is (re)filled from the history kept since that channel
        time, so a subscriber taking over from a dead one continues without a media gap; an
        existing subscriber's buffer is replaced, its pending changes are kept.
        """
        if subscriber_id not in self._subscribers:
            self._subscribers[subscriber_id] = _Subscriber(deque())
        subscriber = self._subscribers[subscriber_id]
        subscriber.seen_us, subscriber.layer = self._now(now_us), video_layer
        if replay_from_us is None:
            return
        subscriber.packets.clear()
        for packet in self._replay(replay_from_us, video_layer):
            self._enqueue(subscriber, packet)

    def unsubscribe(self, subscriber_id: str) -> None:
        self._subscribers.pop(subscriber_id, None)

    def pull(self, subscriber_id: str, max_packets: int = 2000,
             now_us: int | None = None) -> Batch:
        subscriber = self._subscribers[subscriber_id]
        subscriber.seen_us = self._now(now_us)
        count = min(max_packets, len(subscriber.packets))
        packets = [subscriber.packets.popleft() for _ in range(count)]
        batch = Batch(
            packets=packets,
            tracks=self.list_tracks(subscriber.layer),
            members=self.list_members(),
            changes=subscriber.changes,
            dropped=subscriber.dropped,
            pending=len(subscriber.packets),
        )
        subscriber.changes = []
        subscriber.dropped = 0
        return batch

    def drop_stale(self, idle_us: int, now_us: int | None = None) -> list[str]:
        """Forget subscribers that have not pulled for `idle_us` (a recorder killed before it
        unsubscribed): their buffers would otherwise fill and keep the channel occupied."""
        since = self._now(now_us) - idle_us
        stale = [sid for sid, sub in self._subscribers.items() if sub.seen_us < since]
        for subscriber_id in stale:
            del self._subscribers[subscriber_id]
        return stale

    def get_dropped_total(self, subscriber_id: str) -> int:
        return self._subscribers[subscriber_id].dropped_total

    # -- internals ----------------------------------------------------------------------------

    def _now(self, now_us: int | None) -> int:
        return self._clock() if now_us is None else now_us

    def _record(self, change: Change, track: LayerKey | None = None) -> None:
        """A membership change to every subscriber; a change of `track` to those it is shown
        to (while it is published)."""
        for subscriber in self._subscribers.values():
            if track is None or shown(track, subscriber.layer, self._tracks):
                subscriber.changes.append(change)


def _high_first(key: LayerKey) -> int:
    """Layers unpublish high first: a subscriber of the low one never falls back to the
    high layer of a user whose video is ending."""
    return key[2]
