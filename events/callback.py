"""Events of delivering a session's callbacks to its app's webhook (stream id = sid).

Written by the webhook deliverer, never by a recorder (generation 0). Each POST to the receiver is
one event: `CallbackDelivered` (it answered 2xx) or `CallbackFailed` (anything else; retried
unless a `CallbackAbandoned` follows). They name the notification by `notice_id` (the same id the
receiver sees, stable across retries) and never carry the webhook's URL or secret.
"""

from __future__ import annotations

from typing import Literal

from cloudrec.events.envelope import Event


class CallbackEvent(Event):
    """What every delivery event says about its notification (not itself an event type)."""

    appid: str
    notice_id: str
    event_type: int
    sequence: int


class CallbackDelivered(CallbackEvent):
    """Attempt `attempt` was answered with `http_status` (2xx), `latency_ms` after the event."""

    type: Literal["CallbackDelivered"] = "CallbackDelivered"
    attempt: int
    http_status: int
    latency_ms: int


class CallbackFailed(CallbackEvent):
    """Attempt `attempt` got no 2xx answer (`reason`: "HTTP 500", "timeout", ...)."""

    type: Literal["CallbackFailed"] = "CallbackFailed"
    attempt: int
    reason: str
    http_status: int = 0  # 0: no answer at all


class CallbackAbandoned(CallbackEvent):
    """No more attempts: retries are off, the retry window passed, or the webhook was removed."""

    type: Literal["CallbackAbandoned"] = "CallbackAbandoned"
    attempts: int
    reason: str


CallbackOutcome = CallbackDelivered | CallbackFailed | CallbackAbandoned
