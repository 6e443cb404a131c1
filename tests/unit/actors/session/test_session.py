"""The session's write side as pure functions: state folded from events, commands -> events."""

from __future__ import annotations

import pytest

from cloudrec.actors.session import session
from cloudrec.actors.session.session import Rejected
from cloudrec.events.envelope import Event
from cloudrec.events.layout import Layout
from cloudrec.events.recording import (
    RecorderFailed,
    RecorderLaunched,
    RecordingFailed,
    RecordingStarted,
    StopRequested,
)
from cloudrec.events.subscription import UidLists

SID = "s1"


def started(mode: str = "mix", stream_types: int = 2) -> RecordingStarted:
    return RecordingStarted(stream_id=SID, at_ms=1, appid="a", cname="c", uid="9",
                            resource_id="r", mode=mode,
                            config={"recordingConfig": {"streamTypes": stream_types}},
                            av_file_types=["hls"], file_prefix=[], playlist="p.m3u8")


def state(*events: Event) -> session.SessionState:
    return session.fold(events, SID)


def recording(*more: Event, mode: str = "mix", stream_types: int = 2) -> session.SessionState:
    return state(started(mode, stream_types), RecorderLaunched(
        stream_id=SID, at_ms=2, generation=1, recorder_uid=9), *more)


def test_start_is_the_start_and_its_plan_and_only_once() -> None:
    events = session.start(state(), started(), {"sid": SID}, "s3://b at http://x")
    assert [type(e).__name__ for e in events] == ["RecordingStarted", "RecordingPlanned"]
    with pytest.raises(Rejected) as again:
        session.start(state(*events), started(), {})
    assert again.value.code == 7


def test_stop_once_then_49_and_404_once_ended() -> None:
    s = recording()
    events = session.stop(s, "api", 5)
    assert isinstance(events[0], StopRequested) and events[0].reason == "api"
    with pytest.raises(Rejected) as twice:
        session.stop(state(started(), *events), "api", 6)
    assert twice.value.code == 49
    ended = state(started(), *events, *session.finish(state(started(), *events), "uploaded", 7))
    with pytest.raises(Rejected) as gone:
        session.stop(ended, "api", 8)
    assert gone.value.code == 404


def test_update_layout_is_mix_only_and_updates_need_a_running_session() -> None:
    assert session.update_layout(recording(), Layout(mixed_video_layout=1), 5)[0].layout \
        == Layout(mixed_video_layout=1)  # type: ignore[attr-defined]
    with pytest.raises(Rejected) as individual:
        session.update_layout(recording(mode="individual"), Layout(), 5)
    assert individual.value.code == 2
    with pytest.raises(Rejected) as stopping:
        session.update_layout(recording(StopRequested(stream_id=SID, at_ms=3)), Layout(), 5)
    assert stopping.value.code == 404
    with pytest.raises(Rejected) as never:
        session.update_subscription(state(), UidLists(subscribe=("1",)), None, 5)
    assert never.value.code == 404


@pytest.mark.parametrize("stream_types,audio,video,allowed", [
    (0, UidLists(subscribe=("1",)), None, True),
    (0, None, UidLists(subscribe=("1",)), False),  # audio-only recording: no video lists
    (1, UidLists(subscribe=("1",)), None, False),
    (2, None, None, False),  # nothing to change
])
def test_update_subscription_follows_stream_types(stream_types: int, audio: UidLists | None,
                                                  video: UidLists | None, allowed: bool) -> None:
    s = recording(stream_types=stream_types)
    if allowed:
        assert session.update_subscription(s, audio, video, 5)[0].audio == audio  # type: ignore[attr-defined]
    else:
        with pytest.raises(Rejected) as refused:
            session.update_subscription(s, audio, video, 5)
        assert refused.value.code == 2


def test_a_failure_fences_the_generation_and_names_the_next_uid() -> None:
    s = recording()
    [failed] = session.fail(s, 1, "actor died", 9, new_uid=4242)
    assert isinstance(failed, RecorderFailed)
    assert (failed.failed_generation, failed.generation, failed.new_uid) == (1, 2, 4242)
    after = state(started(), failed)
    assert after.generation == 2 and after.failovers == 1 and after.recording
    assert session.fail(after, 1, "reported twice", 10, new_uid=1) == []  # old news


def test_the_fourth_failure_ends_the_recording() -> None:
    events: list[Event] = [started()]
    for generation in (1, 2, 3):
        events += session.fail(state(*events), generation, "died", generation, 100 + generation)
    assert state(*events).failovers == 3 and state(*events).recording
    last = session.fail(state(*events), 4, "died", 9, new_uid=999)
    kinds = [type(e).__name__ for e in last]
    assert kinds == ["RecorderFailed", "RecordingFailed", "StopRequested"]
    assert last[0].new_uid == 0  # type: ignore[attr-defined]
    assert isinstance(last[1], RecordingFailed) and last[1].module == 0
    done = state(*events, *last)
    assert not done.recording and done.stop_reason == "failed"
    assert session.finish(done, "uploaded", 10)[-1].exit_status == 1  # type: ignore[attr-defined]


def test_a_generation_that_never_joins_times_out_with_52_once() -> None:
    s = state(started())
    events = session.time_out(s, 1, 30, 30.0)
    assert [type(e).__name__ for e in events] == ["RecordingFailed", "StopRequested",
                                                 "RecordingStopped", "SessionExited"]
    assert events[0].error_code == 52  # type: ignore[attr-defined]
    assert session.time_out(recording(), 1, 30, 30.0) == []  # it joined after all
