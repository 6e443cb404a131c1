"""What generation n+1 folds before it continues a session."""

from __future__ import annotations

from cloudrec.events.layout import Layout, LayoutRegion
from cloudrec.events.subscription import SubscriptionUpdated, UidLists
from cloudrec.projections import recovery
from cloudrec.projections.recovery import PendingFile

from .session import T0, SessionEvents

CUSTOM = {
    "recordingConfig": {
        "transcodingConfig": {
            "width": 640, "height": 360, "fps": 15, "bitrate": 500,
            "mixedVideoLayout": 3, "backgroundColor": "#FF0000", "maxResolutionUid": "7",
            "layoutConfig": [{"uid": "7", "x_axis": 0, "y_axis": 0, "width": 0.5, "height": 1}],
        }
    }
}  # fmt: skip


def test_recovery_after_a_failover() -> None:
    s = SessionEvents()
    slices = [s.slice(0), s.slice(1)]
    given = [
        s.started(), s.launched(1), s.slice_started(), *slices, s.playlist_written(),
        s.uploaded(slices[0].key, "slice"), s.failed(1), s.launched(2, 2002),
    ]  # fmt: skip
    after_cut = s.slice(2, generation=2)
    zombie = s.slice(99, generation=1)

    view = recovery.fold([*given, zombie, after_cut])

    assert view.generation == 2
    assert view.failovers == 1
    assert [seg.key for seg in view.segments] == [
        "rec/room42/sid1_room42_0.ts", "rec/room42/sid1_room42_1.ts",
        "rec/room42/bak0_sid1_room42_2.ts",
    ]  # fmt: skip
    assert [seg.discontinuity for seg in view.segments] == [True, False, True]
    assert view.next_slice_index == 3
    assert view.last_slice_end_ms == T0 + 3 * 15_000
    assert view.pending == (
        PendingFile(slices[1].key, "slice"),
        PendingFile(s.playlist, "playlist"),
        PendingFile(after_cut.key, "slice"),
    )
    assert view.playlist == s.playlist
    assert not view.stopped


def test_what_generation_two_needs_before_it_launches() -> None:
    s = SessionEvents()

    view = recovery.fold([s.started(), s.launched(1), s.slice(0), s.failed(1)])

    assert (view.generation, view.failovers, view.next_slice_index) == (1, 1, 1)
    assert view.last_slice_end_ms == T0 + 15_000


def test_a_rewritten_playlist_is_pending_again_until_uploaded() -> None:
    s = SessionEvents()
    events = [s.started(), s.playlist_written(), s.uploaded(s.playlist, "playlist")]

    assert recovery.fold(events).pending == ()
    rewritten = recovery.fold([*events, s.playlist_written(ended=True)])
    assert rewritten.pending == (PendingFile(s.playlist, "playlist"),)


def test_mp4_and_stop_request() -> None:
    s = SessionEvents(mp4=True)
    mp4 = s.mp4_written(0)

    view = recovery.fold([s.started(), s.launched(), mp4, s.stop_requested()])

    assert view.pending == (PendingFile(mp4.key, "mp4"),)
    assert view.stopped


def test_layout_defaults_then_start_config_then_latest_update() -> None:
    s = SessionEvents()

    assert recovery.fold([s.started()]).layout == Layout()
    from_config = recovery.fold([s.started(CUSTOM)]).layout
    assert from_config == Layout(
        mixed_video_layout=3, max_resolution_uid=7, background_color="#FF0000",
        layout_config=[LayoutRegion(uid=7, x_axis=0, y_axis=0, width=0.5, height=1)],
    )  # fmt: skip
    updated = recovery.fold([s.started(CUSTOM), s.layout(1), s.layout(2)])
    assert updated.layout == Layout(mixed_video_layout=2)


def test_subscription_lists_as_the_last_update_left_them() -> None:
    s = SessionEvents()
    started = s.started({"recordingConfig": {"streamTypes": 2, "subscribeAudioUids": ["1"]}})
    update = SubscriptionUpdated(stream_id=started.stream_id, at_ms=T0 + 5,
                                 video=UidLists(unsubscribe=("2",)))

    view = recovery.fold([started, s.launched(1), update])

    assert view.lists.audio == UidLists(subscribe=("1",))
    assert view.lists.video == UidLists(unsubscribe=("2",))


def test_initial_view_is_empty() -> None:
    view = recovery.initial("sid1")

    assert (view.generation, view.failovers, view.next_slice_index) == (0, 0, 0)
    assert view.segments == () and view.pending == ()
    assert view.last_slice_end_ms == 0
