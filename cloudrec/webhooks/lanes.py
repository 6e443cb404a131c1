"""Delivering notifications: one lane per session, each a queue worked in `sequence` order.

A lane sends its head notification until it is settled (delivered: a 2xx answer; or abandoned,
when the webhook's retry policy gives up) and only then the next one, so a session's callbacks
reach the receiver in order. Lanes run concurrently on one asyncio loop: a receiver that is slow,
hangs or is down holds up only its own app's sessions (each app also has its own connection
pool, see `transport`). Every attempt's outcome goes to `record` as an event; the log is where a
restarted deliverer learns what is still owed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Protocol

from cloudrec.events.callback import (
    CallbackAbandoned,
    CallbackDelivered,
    CallbackFailed,
    CallbackOutcome,
)
from cloudrec.projections.delivery import Pending
from cloudrec.webhooks import envelope
from cloudrec.webhooks.config import Webhook
from cloudrec.webhooks.transport import Answer, Transport

log = logging.getLogger("cloudrec.webhooks")


class Hooks(Protocol):
    def get(self, appid: str) -> Webhook | None: ...


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Lanes:
    """Call `submit` on the loop (the deliverer uses `loop.call_soon_threadsafe`)."""

    def __init__(self, hooks: Hooks, transport: Transport,
                 record: Callable[[CallbackOutcome], None],
                 clock_ms: Callable[[], int] = now_ms,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.hooks, self.transport, self.record = hooks, transport, record
        self.clock_ms, self.sleep = clock_ms, sleep
        self._queues: dict[str, deque[Pending]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def submit(self, pending: Pending) -> None:
        self._queues.setdefault(pending.sid, deque()).append(pending)
        if pending.sid not in self._tasks:
            self._tasks[pending.sid] = asyncio.create_task(self._work(pending.sid))

    def busy(self) -> int:
        """Notifications queued or in flight."""
        return sum(len(queue) for queue in self._queues.values())

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _work(self, sid: str) -> None:
        queue = self._queues[sid]
        try:
            while queue:
                await self._settle(queue[0])
                queue.popleft()
        finally:
            del self._queues[sid], self._tasks[sid]

    async def _settle(self, pending: Pending) -> None:
        """Attempt until delivered or given up; record each attempt."""
        while (hook := self.hooks.get(pending.appid)) is not None:
            answer = await self._attempt(hook, pending)
            at_ms, attempt = self.clock_ms(), pending.attempts + 1
            if answer.ok:
                self.record(delivered(pending, attempt, answer.status, at_ms))
                return
            pending = replace(pending, attempts=attempt,
                              first_attempt_ms=pending.first_attempt_ms or at_ms)
            self.record(failed(pending, answer, at_ms))
            delay = hook.next_delay(pending.attempts, pending.first_attempt_ms, at_ms)
            if delay is None:
                self.record(abandoned(pending, answer.reason, at_ms))
                return
            await self.sleep(delay)
        self.record(abandoned(pending, "no webhook for this app", self.clock_ms()))

    async def _attempt(self, hook: Webhook, pending: Pending) -> Answer:
        content = envelope.body(pending.notice, self.clock_ms())
        return await self.transport.post(hook, content, envelope.headers(content, hook.secret))


def _about(pending: Pending) -> dict[str, Any]:
    return dict(stream_id=pending.sid, appid=pending.appid, notice_id=pending.notice_id,
                event_type=pending.event_type, sequence=pending.sequence)


def delivered(pending: Pending, attempt: int, status: int, at_ms: int) -> CallbackDelivered:
    return CallbackDelivered(at_ms=at_ms, attempt=attempt, http_status=status,
                             latency_ms=at_ms - pending.event_ms, **_about(pending))


def failed(pending: Pending, answer: Answer, at_ms: int) -> CallbackFailed:
    log.debug("callback %s of session %s, attempt %d: %s", pending.notice_id, pending.sid,
              pending.attempts, answer.reason)
    return CallbackFailed(at_ms=at_ms, attempt=pending.attempts, reason=answer.reason,
                          http_status=answer.status, **_about(pending))


def abandoned(pending: Pending, reason: str, at_ms: int) -> CallbackAbandoned:
    log.warning("callback %s (eventType %d) of session %s abandoned after %d attempts: %s",
                pending.notice_id, pending.event_type, pending.sid, pending.attempts, reason)
    return CallbackAbandoned(at_ms=at_ms, attempts=pending.attempts, reason=reason,
                             **_about(pending))
