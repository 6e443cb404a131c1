"""Notebook rows: one per event, zombies marked rather than hidden."""

from __future__ import annotations

from cloudrec.projections import timeline

from .session import SessionEvents


def test_one_row_per_event_with_a_summary() -> None:
    s = SessionEvents()
    events = [s.started(), s.launched(1), s.left()]

    rows = timeline.fold(events).rows

    assert [r.type for r in rows] == ["RecordingStarted", "RecorderLaunched", "RecorderLeft"]
    assert rows[1].generation == 1 and rows[1].at_ms == events[1].at_ms
    assert rows[2].summary == "leave_code=16"
    assert "config" not in rows[0].summary


def test_zombie_rows_are_marked_fenced() -> None:
    s = SessionEvents()

    view = timeline.fold([s.launched(1), s.launched(2, 2002), s.left(generation=1)])

    assert [r.fenced for r in view.rows] == [False, False, True]
    assert timeline.records(view)[2]["fenced"] is True
