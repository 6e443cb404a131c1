"""A publisher: joins a channel and sends a source's encoded packets in ~100 ms batches.

Paced by `Pacer`: in real time by the packets' own timestamps, or as fast as possible.
The source is anything with `tracks()` and `packets_until(media_seconds)`: a synthetic
publisher or a file/URL source.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from cloudrec.actors.channel.encryption import MediaKey, PacketCipher
from cloudrec.actors.channel.pacing import Pacer
from cloudrec.actors.channel.packet import MediaPacket, TrackInfo


class Source(Protocol):
    def tracks(self) -> list[TrackInfo]: ...

    def packets_until(self, media_seconds: float) -> list[MediaPacket]: ...


class EncryptedSource:
    """A source whose packet payloads are sealed under `key` (`cloudrec publish
    --encryption-mode`); its tracks, extradata included, stay clear."""

    def __init__(self, source: Source, key: MediaKey) -> None:
        self.source, self.cipher = source, PacketCipher(key)

    @property
    def exhausted(self) -> bool:
        return bool(getattr(self.source, "exhausted", False))

    def tracks(self) -> list[TrackInfo]:
        return self.source.tracks()

    def packets_until(self, media_seconds: float) -> list[MediaPacket]:
        return [replace(p, data=self.cipher.seal(p.data) if p.data else p.data)
                for p in self.source.packets_until(media_seconds)]


class ChannelPort(Protocol):
    def join(self, uid: int) -> None: ...

    def leave(self, uid: int) -> None: ...

    def publish(self, track: TrackInfo) -> TrackInfo: ...

    def push(self, packets: list[MediaPacket]) -> int: ...


class Publisher:
    def __init__(self, channel: ChannelPort, uid: int, source: Source, realtime: bool = True,
                 batch_s: float = 0.1, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.channel, self.uid, self.source = channel, uid, source
        self.realtime, self.batch_s = realtime, batch_s
        self.clock, self.sleep = clock, sleep
        self.sent = 0

    def run(self, stop: threading.Event, duration_s: float | None = None) -> int:
        """Join, publish, stream until `stop` is set, the duration passes or the source ends."""
        self.channel.join(self.uid)
        for track in sorted(self.source.tracks(), key=_low_first):
            self.channel.publish(track)
        try:
            self._stream(stop, duration_s)
        finally:
            self.channel.leave(self.uid)
        return self.sent

    def _stream(self, stop: threading.Event, duration_s: float | None) -> None:
        pacer = Pacer(self.source, realtime=self.realtime, batch_seconds=self.batch_s,
                      clock=self.clock, sleep=self.sleep)
        for packets in pacer.batches(duration_s):
            if stop.is_set():
                return
            if packets:
                self.sent += self.channel.push(packets)


def _low_first(track: TrackInfo) -> int:
    """A dual-stream sender publishes its low video first: a subscriber of low layers then
    never starts on its high one in between (`layers.shown`)."""
    return -track.layer
