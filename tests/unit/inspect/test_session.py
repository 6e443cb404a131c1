"""`Session`: time travel through the `query` view, and the session's tables."""

from __future__ import annotations

import pytest

from cloudrec.inspect import Log, Session

from .recorded import MIX_SID, SOLO_SID, T0_MS, Recorded


@pytest.fixture(scope="module")
def mix(recorded: Recorded) -> Session:
    return Log.open(recorded.url).session(MIX_SID)


def test_query_travels_in_time(mix: Session) -> None:
    assert mix.query(at=T0_MS - 1).status == 0
    assert mix.query(at=T0_MS + 2_000).status == 4  # recording, generation 1
    assert mix.query(at=T0_MS + 3_600).generation == 2
    assert mix.query(at="2027-01-15 08:00:05.000").stopped
    assert mix.query().status == 8 and mix.state == "ended"
    assert mix.query(version=1).status == 1  # after its first event only
    assert mix.answer()["fileList"] == f"rec/room42/{MIX_SID}_room42.m3u8"


def test_slices_carry_generation_and_lateness(mix: Session) -> None:
    slices = mix.slices()
    assert list(slices.generation) == [1, 1, 2]
    assert list(slices.start_s) == [0.0, 1.0, 3.5]
    assert (slices.lateness_ms > 0).all()  # in storage after their media ended
    assert slices.key.iloc[2].startswith("rec/room42/bak0_")


def test_uploads_measure_written_to_stored(mix: Session) -> None:
    uploads = mix.uploads()
    assert set(uploads.kind) == {"slice", "playlist"}
    assert (uploads.outcome == "uploaded").all()
    assert (uploads.latency_s >= 0.1).all()


def test_layouts_start_with_the_start_config(mix: Session) -> None:
    layouts = mix.layouts()
    assert list(layouts.name) == ["bestFit", "float"]
    assert list(layouts.at_s) == [0.0, 1.5]


def test_failover_and_the_gap_it_cut(mix: Session) -> None:
    failovers = mix.failovers()
    assert len(failovers) == 1
    row = failovers.iloc[0]
    assert (row.failed_generation, row.generation, row.reason) == (1, 2, "actor died")
    assert row.resumed_s == 3.5 and 0.9 < row.gap_s < 1.0
    assert list(mix.gaps().gap_s) == [row.gap_s]
    recorders = mix.recorders()
    assert list(recorders.generation) == [1, 2] and list(recorders.failed) == [True, False]


def test_streams_say_whose_media_was_recorded_when(mix: Session) -> None:
    streams = mix.streams()
    user2 = streams[(streams.uid == "2") & (streams.track == "video")]
    assert list(zip(user2.from_s, user2.to_s, strict=True)) == [(0.3, 2.5), (3.8, 4.0)]


def test_callbacks_are_the_callback_projection(mix: Session) -> None:
    callbacks = mix.callbacks()
    assert list(callbacks.sequence) == list(range(len(callbacks)))
    assert {12, 40, 41, 11} <= set(callbacks.event_type)
    assert callbacks.msg_name.iloc[-1] == "session_exit"
    assert not callbacks.delivered.any()  # no webhook in this log


def test_individual_session_has_per_user_playlists(recorded: Recorded) -> None:
    solo = Log.open(recorded.url).session(SOLO_SID)
    assert {(f.uid, f.track) for f in solo.query().track_files} == {
        ("1", "audio"), ("1", "video"), ("2", "audio"), ("2", "video")}
    assert solo.layouts().empty and solo.failovers().empty


def test_html_summaries(mix: Session) -> None:
    card = mix._repr_html_()
    assert MIX_SID in card and "ended" in card and "failovers" in card
    assert "24 shown" in card and "RecordingStarted" in card and "SessionExited" in card
    table = mix.events._repr_html_()
    assert table.count("<tr>") == len(mix.events) + 1
    one = mix.events.card(0)._repr_html_()
    assert "RecordingStarted" in one and "resource_id" in one
    assert "<script" not in mix.events.card(0)._repr_html_()
