"""The `query` and `stop` answers, folded from hand-built sessions (given events, then the view)."""

from __future__ import annotations

from cloudrec.events.channel import UserJoined
from cloudrec.projections import status

from .session import T0, SessionEvents


def statuses(events: list) -> list[int]:
    view, seen = status.initial(events[0].stream_id), []
    for event in events:
        view = status.apply(view, event)
        seen.append(view.status)
    return seen


def test_status_numbers_through_a_whole_session() -> None:
    s = SessionEvents()
    first = s.slice(0)
    events = [
        s.started(), s.uploader(), s.launched(), s.slice_started(), first,
        s.uploaded(first.key, "slice"), s.uploaded(s.playlist, "playlist"),
        s.stop_requested(), s.stopped(), s.exited(),
    ]  # fmt: skip

    assert statuses(events) == [1, 3, 4, 4, 4, 5, 5, 6, 7, 8]
    assert status.fold(events).ended


def test_status_never_goes_back_on_failover() -> None:
    s = SessionEvents()
    events = [s.started(), s.uploader(), s.launched(), s.uploaded("a.ts", "slice")]

    view = status.fold([*events, s.failed(1), s.launched(generation=2, uid=2002)])

    assert view.status == 5
    assert view.generation == 2


def test_recording_failed_is_20() -> None:
    s = SessionEvents()

    view = status.fold([s.started(), s.launched(), s.error(), s.exited(exit_status=1)])

    assert view.status == 20
    assert view.ended


def test_playlist_is_named_right_after_start() -> None:
    s = SessionEvents()

    view = status.fold([s.started()])

    assert view.playlist == "rec/room42/sid1_room42.m3u8"
    assert status.server_response(view) == {
        "status": 1,
        "fileListMode": "string",
        "fileList": "rec/room42/sid1_room42.m3u8",
        "sliceStartTime": 0,
    }


def test_identity_comes_from_start() -> None:
    view = status.fold([SessionEvents().started()])

    assert (view.appid, view.cname, view.uid, view.resource_id, view.mode) == (
        "app1", "room42", "1001", "res1", "mix",
    )  # fmt: skip
    assert view.av_file_types == ("hls",)


def test_slice_start_time_is_the_first_slice_start() -> None:
    s = SessionEvents()
    first = s.slice_started()
    after_failover = s.slice_started(generation=2, discontinue_ms=first.start_ms + 1000)

    view = status.fold([s.started(), s.launched(), first, s.launched(2, 2002), after_failover])

    assert view.slice_start_time == first.start_ms
    assert status.server_response(view)["sliceStartTime"] == first.start_ms


def test_hls_and_mp4_list_files_as_json() -> None:
    s = SessionEvents(mp4=True)
    started = s.slice_started()
    events = [s.started(), s.launched(), started, s.mp4_written(0), s.mp4_written(0)]

    response = status.server_response(status.fold(events))

    assert response["fileListMode"] == "json"
    assert response["fileList"] == [
        {"fileName": s.playlist, "trackType": "audio_and_video", "uid": "0",
         "mixedAllUser": True, "isPlayable": True, "sliceStartTime": started.start_ms},
        {"fileName": "rec/room42/sid1_room42_0.mp4", "trackType": "audio_and_video", "uid": "0",
         "mixedAllUser": True, "isPlayable": True, "sliceStartTime": T0 + 500},
    ]  # fmt: skip


def test_stop_response_lists_files_and_uploading_status() -> None:
    s = SessionEvents(mp4=True)

    view = status.fold(s.full())

    response = status.stop_response(view)
    assert response["fileListMode"] == "json"
    assert [f["fileName"] for f in response["fileList"]] == [
        s.playlist, "rec/room42/sid1_room42_0.mp4",
    ]  # fmt: skip
    assert response["uploadingStatus"] == "uploaded"
    assert view.stopped and view.ended


def test_uploaded_keys_are_recorded_once() -> None:
    s = SessionEvents()

    view = status.fold(s.full())

    assert view.uploaded == ("rec/room42/sid1_room42_0.ts", s.playlist)


def test_zombie_generation_is_fenced_off() -> None:
    s = SessionEvents(mp4=True)
    before = status.fold([s.started(), s.launched(1), s.failed(1), s.launched(2, 2002)])
    zombie = [s.slice_started(generation=1), s.mp4_written(0, generation=1), s.error(1)]

    after = before
    for event in zombie:
        after = status.apply(after, event)

    assert after == before
    assert status.apply(after, s.stopped()).status == 7  # generation 0 (supervisor) still counts


def test_unrelated_events_are_ignored() -> None:
    s = SessionEvents()
    view = status.fold([s.started()])
    joined = UserJoined(stream_id="sid1", at_ms=T0, uid=7)

    assert status.apply(view, joined) == view
    assert status.apply(view, s.layout(1)) == view


def test_something_was_recorded_once_a_users_stream_was_received() -> None:
    s = SessionEvents()
    only_the_mix = [s.started(), s.launched(), s.stream("audio"), s.stream("video")]
    assert not status.fold(only_the_mix).heard_users  # stop will answer 435
    stopped_at_once = [*only_the_mix, s.stream("audio", uid="7", state=1)]
    assert not status.fold(stopped_at_once).heard_users
    assert status.fold([*only_the_mix, s.stream("video", uid="7")]).heard_users
