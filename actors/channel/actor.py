"""Ray shell of a channel: forwards to the `Channel` core and records membership as events.

A channel ends itself once vacant for its grace period (`vacancy`): a watch thread checks
every quarter of it (at most every 5 s), under the same lock as the calls that bring someone
in, so nobody joins a channel that is closing; then the actor kills itself, which frees its
name for a fresh channel.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import ray

from cloudrec.actors.channel.channel import Batch, Channel, wall_clock_us
from cloudrec.actors.channel.packet import HIGH, Kind, MediaPacket, TrackInfo
from cloudrec.actors.channel.vacancy import DEFAULT_GRACE_S, STALE_SUBSCRIBER_S, Vacancy
from cloudrec.events.backends import shared_event_log
from cloudrec.events.channel import (
    TrackPublished,
    TrackUnpublished,
    UserJoined,
    UserLeft,
    channel_id,
)
from cloudrec.events.envelope import Event

log = logging.getLogger(__name__)
HISTORY_US = 20_000_000


def _now_ms() -> int:
    return int(time.time() * 1000)


class ChannelActor:
    def __init__(self, appid: str, cname: str, events_url: str,
                 grace_s: float = DEFAULT_GRACE_S) -> None:
        # a user's audio and video share one clock; 20 s of packets are kept for a recorder that
        # replaces a dead one, or one still being handed its session (RecorderActor replays)
        self.core = Channel(share_publisher_offset=True, history_us=HISTORY_US)
        self.stream = channel_id(appid, cname)
        self.events = shared_event_log(events_url)
        self.lock = threading.Lock()
        self.vacancy = Vacancy(int(grace_s * 1_000_000), wall_clock_us())
        threading.Thread(target=self._watch, args=(min(grace_s / 4, 5.0),), daemon=True).start()

    def _watch(self, every_s: float) -> None:
        while not self._close_if_vacant():
            time.sleep(every_s)
        log.info("channel %s: vacant for its grace period; ending", self.stream)
        try:
            ray.kill(ray.get_runtime_context().current_actor, no_restart=True)
        except Exception:  # a closed channel must not live on: it would refuse everyone
            log.exception("channel %s: could not end itself; exiting", self.stream)
            os._exit(1)

    def _close_if_vacant(self) -> bool:
        try:
            with self.lock:
                now = wall_clock_us()
                self.core.drop_stale(int(STALE_SUBSCRIBER_S * 1_000_000), now)
                return self.vacancy.close_if_over(self.core.occupied(), now)
        except Exception:  # the watch must outlive one bad round
            log.exception("channel %s: vacancy check failed", self.stream)
            return False

    def _record(self, event: Event) -> None:
        self.events.append([event])

    def keep(self) -> None:
        """Someone will use the channel: it stays for another grace period (`ChannelClosed`
        once it has ended)."""
        with self.lock:
            self.vacancy.keep(wall_clock_us())

    def join(self, uid: int) -> None:
        with self.lock:
            self.vacancy.keep(wall_clock_us())
            self.core.join(uid)
        self._record(UserJoined(stream_id=self.stream, at_ms=_now_ms(), uid=uid))

    def leave(self, uid: int) -> None:
        with self.lock:
            self.vacancy.left(wall_clock_us())
            self.core.leave(uid)
        self._record(UserLeft(stream_id=self.stream, at_ms=_now_ms(), uid=uid))

    def publish(self, track: TrackInfo) -> TrackInfo:
        with self.lock:
            self.vacancy.keep(wall_clock_us())
            stamped = self.core.publish(track)
        self._record(TrackPublished(stream_id=self.stream, at_ms=_now_ms(), uid=track.uid,
                                    kind=track.kind, codec=track.codec, layer=track.layer))
        return stamped

    def unpublish(self, uid: int, kind: Kind, layer: int | None = None) -> None:
        """One video layer, or (`layer` None) every layer of the track."""
        with self.lock:
            self.core.unpublish(uid, kind, layer=layer)
        self._record(TrackUnpublished(stream_id=self.stream, at_ms=_now_ms(), uid=uid,
                                      kind=kind, layer=layer))

    def push(self, packets: list[MediaPacket]) -> int:
        """Under the lock, as every call on the core: the actor runs calls on 16 threads, and a
        push fanning out over the subscribers while a recorder subscribed or left failed with
        "dictionary changed size during iteration" (bench/capacity.py, 100 individual users)."""
        with self.lock:
            return self.core.push(packets)

    def subscribe(self, subscriber_id: str, replay_from_us: int | None = None,
                  video_layer: int = HIGH) -> None:
        with self.lock:
            self.vacancy.keep(wall_clock_us())
            self.core.subscribe(subscriber_id, replay_from_us, video_layer=video_layer)

    def unsubscribe(self, subscriber_id: str) -> None:
        with self.lock:
            self.vacancy.left(wall_clock_us())
            self.core.unsubscribe(subscriber_id)

    def pull(self, subscriber_id: str) -> Batch:
        with self.lock:
            return self.core.pull(subscriber_id)

    def list_members(self) -> list[int]:
        with self.lock:
            return self.core.list_members()


class PublisherActor:
    """Runs one publisher in a thread of its own process (the demo's synthetic users)."""

    def __init__(self, channel: object, uid: int, source: str = "synthetic",
                 palette_index: int = 0, realtime: bool = True,
                 dual_stream: bool = False) -> None:
        from cloudrec.actors.channel.handle import ChannelHandle
        from cloudrec.actors.channel.publisher import Publisher
        from cloudrec.actors.channel.sources import open_source

        self.stop_event = threading.Event()
        opened = open_source(source, uid, palette_index, dual_stream=dual_stream)
        self.publisher = Publisher(ChannelHandle(channel), uid, opened, realtime=realtime)
        self.thread: threading.Thread | None = None

    def start(self, duration_s: float | None = None) -> None:
        self.thread = threading.Thread(target=self.publisher.run,
                                       args=(self.stop_event, duration_s), daemon=True)
        self.thread.start()

    def stop(self) -> int:
        self.stop_event.set()
        if self.thread:
            self.thread.join(10)
        return self.publisher.sent
