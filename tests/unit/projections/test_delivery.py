"""What the deliverer owes: notifications become pending (if wanted), outcome events settle them,
and the deliverer's own events notify nothing and change no other view."""

from __future__ import annotations

from cloudrec.events.callback import CallbackAbandoned, CallbackDelivered, CallbackFailed
from cloudrec.projections import callbacks, recovery, status
from cloudrec.projections.delivery import Deliveries, DeliveryView, Pending

from .session import SessionEvents


def fold(events: list, wants=lambda appid, event_type: True) -> tuple[DeliveryView, list]:
    projection = Deliveries(wants)
    view, due = projection.initial(events[0].stream_id), []
    for event in events:
        view, out = projection.apply(view, event)
        due.extend(out)
    return view, due


def outcome(kind: type, pending: Pending, at_ms: int = 5, **fields: object) -> object:
    return kind(stream_id=pending.sid, at_ms=at_ms, appid=pending.appid,
                notice_id=pending.notice_id, event_type=pending.event_type,
                sequence=pending.sequence, **fields)


def test_every_notification_is_due_in_sequence_order_with_its_app() -> None:
    s = SessionEvents()
    events = s.full()

    view, due = fold(events)

    assert [p.notice for p in due] == callbacks.notifications(events, s.sid)
    assert view.pending == tuple(due)
    assert {p.appid for p in due} == {"app1"}
    assert [p.sequence for p in due] == list(range(len(due)))


def test_only_wanted_types_become_due_and_the_sequence_still_counts_all() -> None:
    s = SessionEvents()

    _, due = fold(s.full(), wants=lambda appid, event_type: event_type in (40, 11))

    assert [(p.event_type, p.sequence) for p in due] == [(40, 0), (11, 8)]


def test_outcomes_settle_what_they_name() -> None:
    s = SessionEvents()
    view, due = fold(s.full()[:4])
    first, second, third = due

    view, _ = Deliveries(lambda a, t: True).apply(view, outcome(
        CallbackFailed, second, at_ms=7, attempt=1, reason="timeout"))
    view, _ = Deliveries(lambda a, t: True).apply(view, outcome(
        CallbackFailed, second, at_ms=9, attempt=2, reason="HTTP 500", http_status=500))
    view, _ = Deliveries(lambda a, t: True).apply(view, outcome(
        CallbackDelivered, first, attempt=1, http_status=200, latency_ms=3))
    view, _ = Deliveries(lambda a, t: True).apply(view, outcome(
        CallbackAbandoned, third, attempts=3, reason="HTTP 500"))

    assert [(p.notice_id, p.attempts, p.first_attempt_ms) for p in view.pending] == [
        (second.notice_id, 2, 7)]


def test_the_deliverers_events_notify_nothing_and_change_no_other_view() -> None:
    s = SessionEvents()
    events = s.full()
    _, due = fold(events)
    mine = [outcome(CallbackFailed, due[0], attempt=1, reason="timeout"),
            outcome(CallbackDelivered, due[0], attempt=2, http_status=200, latency_ms=9),
            outcome(CallbackAbandoned, due[1], attempts=3, reason="timeout")]
    mixed = events[:3] + mine + events[3:]

    assert callbacks.notifications(mixed, s.sid) == callbacks.notifications(events, s.sid)
    assert status.fold(mixed, s.sid) == status.fold(events, s.sid)
    assert recovery.fold(mixed, s.sid) == recovery.fold(events, s.sid)
