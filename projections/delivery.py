"""What the webhook deliverer still owes: a pure fold of a session's events into its unsettled
notifications.

The session's callbacks fold (`projections.callbacks`) turns events into notifications; those the
deliverer wants (its app has a webhook for that event type, decided by the injected `wants`)
become `Pending`, in `sequence` order. The deliverer's own events settle them: `CallbackFailed`
counts an attempt, `CallbackDelivered` and `CallbackAbandoned` remove the notification. A view
restored after a crash therefore lists exactly what was not yet settled in the log, with the
attempts made so far, and a notification is never derived twice from the same event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from cloudrec.events.callback import CallbackEvent, CallbackFailed
from cloudrec.events.envelope import Event
from cloudrec.projections import callbacks

Wants = Callable[[str, int], bool]  # (appid, eventType) -> deliver it?


@dataclass(frozen=True)
class Pending:
    """One notification owed to `appid`'s webhook, and the attempts made so far."""

    appid: str
    notice: dict[str, Any]
    attempts: int = 0
    first_attempt_ms: int = 0  # when the first failed attempt was recorded (0: none yet)

    @property
    def notice_id(self) -> str:
        return str(self.notice["noticeId"])

    @property
    def sid(self) -> str:
        return str(self.notice["sid"])

    @property
    def sequence(self) -> int:
        return int(self.notice["payload"]["sequence"])

    @property
    def event_type(self) -> int:
        return int(self.notice["eventType"])

    @property
    def event_ms(self) -> int:
        return int(self.notice["payload"]["sendts"])


@dataclass(frozen=True)
class DeliveryView:
    callbacks: callbacks.CallbackState
    pending: tuple[Pending, ...] = ()


class Deliveries:
    """The projection (`initial`, `apply`) for a runner; `apply` also returns what became due."""

    def __init__(self, wants: Wants) -> None:
        self.wants = wants

    def initial(self, sid: str) -> DeliveryView:
        return DeliveryView(callbacks.initial(sid))

    def apply(self, view: DeliveryView, event: Event) -> tuple[DeliveryView, list[Pending]]:
        if isinstance(event, CallbackEvent):
            return settle(view, event), []
        state, notices = callbacks.apply(view.callbacks, event)
        appid = state.session.appid
        due = [Pending(appid, n) for n in notices if self.wants(appid, int(n["eventType"]))]
        return DeliveryView(state, view.pending + tuple(due)), due


def settle(view: DeliveryView, event: CallbackEvent) -> DeliveryView:
    if isinstance(event, CallbackFailed):
        pending = tuple(_counted(p, event) if p.notice_id == event.notice_id else p
                        for p in view.pending)
    else:  # delivered or abandoned: nothing more to do
        pending = tuple(p for p in view.pending if p.notice_id != event.notice_id)
    return replace(view, pending=pending)


def _counted(pending: Pending, failed: CallbackFailed) -> Pending:
    return replace(pending, attempts=max(pending.attempts, failed.attempt),
                   first_attempt_ms=pending.first_attempt_ms or failed.at_ms)
