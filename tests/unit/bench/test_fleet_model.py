"""bench/fleet.py's rate model (P8): one simulated recording's life has exactly the event mix the
README's extrapolation states, and its events are what the projections expect of a real one."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[3] / "bench"))
from fleet_model import Channel, Life, Rates, lives  # noqa: E402

from cloudrec.events.callback import CallbackDelivered  # noqa: E402
from cloudrec.events.envelope import Event  # noqa: E402
from cloudrec.projections import callbacks, status  # noqa: E402
from cloudrec.projections.delivery import Deliveries  # noqa: E402

EPOCH_MS = 1_800_000_000_000


def one_life(rates: Rates) -> tuple[Life, list[tuple[float, list[Event]]]]:
    channel = Channel("app1", "room")
    for _ in range(rates.users):
        channel.joined(EPOCH_MS)
    life = Life(rates, channel, EPOCH_MS)
    return life, list(life)


def test_a_life_has_the_stated_mix() -> None:
    rates = Rates()
    life, moments = one_life(rates)
    counted = Counter(e.type for _, events in moments for e in events)
    assert dict(counted) == pytest.approx(rates.per_life())
    # the figure the README multiplies by 10,000 recordings
    assert rates.per_minute() == pytest.approx(779 / 30)
    assert round(rates.per_second(), 3) == 0.433


def test_appends_are_in_time_order_one_stream_each() -> None:
    _, moments = one_life(Rates())
    times = [t for t, _ in moments]
    assert times == sorted(times)
    assert all(len({e.stream_id for e in events}) == 1 for _, events in moments)


def test_every_notification_is_delivered_once_in_sequence() -> None:
    life, moments = one_life(Rates())
    session = [e for _, events in moments for e in events if e.stream_id == life.sid]
    notices = callbacks.notifications(session, life.sid)
    delivered = [e for e in session if isinstance(e, CallbackDelivered)]
    assert [(d.notice_id, d.sequence, d.event_type) for d in delivered] == [
        (n["noticeId"], n["payload"]["sequence"], n["eventType"]) for n in notices]
    # and the deliverer's view is left owing nothing
    projection, view = Deliveries(lambda appid, event_type: True), None
    view = projection.initial(life.sid)
    for event in session:
        view, _ = projection.apply(view, event)
    assert view.pending == ()
    folded = status.fold(session, life.sid)
    assert folded.ended and folded.uploading_status == "uploaded"


def test_a_fleet_slot_skips_to_its_phase_and_goes_on_with_a_new_recording() -> None:
    rates = Rates(life_s=120.0, layout_s=60.0)
    channel = Channel("app1", "room")
    for _ in range(rates.users):
        channel.joined(EPOCH_MS)
    moments = []
    for t, events in lives(rates, channel, EPOCH_MS, phase=100.0):
        if t > 100:
            break
        moments.append((t, events))
    before = [e for t, events in moments if t < 0 for e in events]
    assert {e.type for e in before} >= {"RecordingStarted", "SliceWritten"}
    assert not any(e.type == "LayoutUpdated" for e in before)  # skipped
    sids = {e.stream_id for _, events in moments for e in events if "/" not in e.stream_id}
    assert len(sids) == 2  # stopped at t = 20, the next began at t = 21 (up to t = 100)
