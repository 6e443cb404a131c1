"""Release a source's packets in real time, in batches of about 100 ms of media.

Batch k holds the packets up to media time k * batch_seconds and is due k * batch_seconds after
the first release: like a live publisher, a packet is never sent before its time, and at most one
batch late. With `realtime=False` batches come back to back. The clock and sleep are injected.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Protocol

from cloudrec.actors.channel.packet import MediaPacket


class PacketSource(Protocol):
    def packets_until(self, media_seconds: float) -> list[MediaPacket]: ...


class Pacer:
    """Cuts a source into timed batches; `due_in` says when, `take` hands the next one over."""

    def __init__(
        self,
        source: PacketSource,
        realtime: bool = True,
        batch_seconds: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.source = source
        self.realtime = realtime
        self.batch_seconds = batch_seconds
        self._clock = clock
        self._sleep = sleep
        self._started: float | None = None
        self._taken = 0  # batches handed over
        self.media_seconds = 0.0  # media released so far

    @property
    def exhausted(self) -> bool:
        return bool(getattr(self.source, "exhausted", False))

    def due_in(self) -> float:
        """Seconds to wait before the next batch is due (0 when late or not real time)."""
        if not self.realtime:
            return 0.0
        if self._started is None:
            self._started = self._clock()
        due = self._started + (self._taken + 1) * self.batch_seconds
        return max(0.0, due - self._clock())

    def take(self, until_seconds: float | None = None) -> list[MediaPacket]:
        """The next batch, without waiting; never past `until_seconds` of media."""
        self._taken += 1
        end = self._taken * self.batch_seconds
        if until_seconds is not None:
            end = min(end, until_seconds)
        self.media_seconds = end
        return self.source.packets_until(end)

    def batches(self, until_seconds: float | None = None) -> Iterator[list[MediaPacket]]:
        """Batches until `until_seconds` of media or until the source is exhausted."""
        while not self._finished(until_seconds):
            self._sleep(self.due_in())
            yield self.take(until_seconds)

    async def abatches(
        self,
        until_seconds: float | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> AsyncIterator[list[MediaPacket]]:
        """`batches` for an event loop: waits with `sleep` (asyncio.sleep by default)."""
        while not self._finished(until_seconds):
            await sleep(self.due_in())
            yield self.take(until_seconds)

    def _finished(self, until_seconds: float | None) -> bool:
        reached = until_seconds is not None and self.media_seconds >= until_seconds
        return reached or self.exhausted
