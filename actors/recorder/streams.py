"""Which users' streams a recorder is receiving, and the 43/44 events when that changes.

A stream is received while its user publishes it and the subscription wants it (spec §15.4:
`state` 0 receiving, 1 not receiving, `streamUid` the user). `StreamStates.update` takes the set of
(uid, kind) the recorder now receives and returns a `StreamStateChanged` per transition, in a
stable order (uid, then audio before video); `close` reports every stream still received as
stopped, at the end of the recording. Pure: no clock, no log.
"""

from __future__ import annotations

from collections.abc import Iterable

from cloudrec.actors.channel.packet import Kind
from cloudrec.events.segment import StreamStateChanged

RECEIVING, NOT_RECEIVING = 0, 1
StreamKey = tuple[int, Kind]


class StreamStates:
    def __init__(self, sid: str, generation: int) -> None:
        self.sid, self.generation = sid, generation
        self.receiving: set[StreamKey] = set()

    def update(self, now_receiving: Iterable[StreamKey], at_ms: int) -> list[StreamStateChanged]:
        current = set(now_receiving)
        started, stopped = current - self.receiving, self.receiving - current
        self.receiving = current
        changes = [(key, RECEIVING) for key in started] + [(key, NOT_RECEIVING) for key in stopped]
        return [self._event(key, state, at_ms) for key, state in sorted(changes)]

    def close(self, at_ms: int) -> list[StreamStateChanged]:
        return self.update((), at_ms)

    def _event(self, key: StreamKey, state: int, at_ms: int) -> StreamStateChanged:
        uid, kind = key
        return StreamStateChanged(stream_id=self.sid, at_ms=at_ms, generation=self.generation,
                                  track=kind, stream_uid=str(uid), state=state, utc_ms=at_ms)
