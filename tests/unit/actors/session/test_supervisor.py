"""The supervisor's lifecycle logic with a fake child-actor wrapper: no Ray, no media.

Tried: starts, repeated starts, stops, idle and expiry, recorders dying (once, four times,
while stopping), recorders that never join, updates while a failover is under way, and a
controller restarted on the same log with sessions recording and stopping.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cloudrec.actors.recorder.config import RecordingConfig, Subscription
from cloudrec.actors.session.session import Rejected
from cloudrec.actors.session.supervisor import QUOTA_EXCEEDED, Quota, Supervisor
from cloudrec.events.layout import Layout
from cloudrec.events.memory import MemoryEventLog
from cloudrec.events.recording import RecorderFailed, RecordingStarted, StopRequested
from cloudrec.events.subscription import UidLists
from cloudrec.projections import callbacks, status

from .fakes import FakeChildren, Inline


def config(sid: str = "s1", max_idle_s: int = 30, uid: int = 9,
           workdir: Path = Path("/tmp/unused")) -> RecordingConfig:
    return RecordingConfig(sid=sid, appid="app", cname="room", recorder_uid=uid, generation=1,
                           workdir=workdir / sid, max_idle_s=max_idle_s)


def started(c: RecordingConfig, resource: str | None = None) -> RecordingStarted:
    return RecordingStarted(stream_id=c.sid, at_ms=1, appid=c.appid, cname=c.cname,
                            uid=str(c.recorder_uid), resource_id=resource or f"r-{c.sid}",
                            mode="mix", config={}, av_file_types=["hls"], file_prefix=[],
                            playlist=f"{c.sid}_room.m3u8")


def types(log: MemoryEventLog, sid: str) -> list[str]:
    return [type(e).__name__ for e in log.read_stream(sid)]


def make(log: MemoryEventLog | None = None, now: list[int] | None = None,
         **fake: Any) -> tuple[Supervisor, FakeChildren, MemoryEventLog]:
    log = log or MemoryEventLog()
    children = FakeChildren(log, **fake)
    clock = (lambda: now[0]) if now else (lambda: 1)
    uids = iter(range(5001, 6000))
    supervisor = Supervisor(log, children, clock_ms=clock, new_uid=lambda: next(uids),
                            background=Inline())
    return supervisor, children, log


def begin(supervisor: Supervisor, sid: str = "s1", **kw: Any) -> RecordingConfig:
    c = config(sid, **kw)
    supervisor.start(c, started(c))
    return c


def test_start_appends_the_start_and_the_plan_then_launches_generation_one() -> None:
    supervisor, children, log = make()
    begin(supervisor)
    assert types(log, "s1")[:3] == ["RecordingStarted", "RecordingPlanned", "RecorderLaunched"]
    assert [c.generation for c in children.configs] == [1]
    assert supervisor.list_sessions() == ["s1"]


def test_each_session_asks_for_its_channel_and_nothing_is_held_after_it_ends() -> None:
    supervisor, children, _ = make()
    begin(supervisor, "s1")
    begin(supervisor, "s2", uid=10)
    assert supervisor.list_channels() == {("app", "room"): "channel:app/room"}
    supervisor.stop("s1")
    supervisor.stop("s2")
    assert [c for c in children.calls if c[0] == "channel"] == [("channel", ("app", "room"))] * 2
    assert supervisor.list_channels() == {}


def test_update_keeps_the_channels_sessions_record_once_each_and_no_others() -> None:
    supervisor, children, _ = make()
    begin(supervisor, "s1")
    begin(supervisor, "s2", uid=10)
    supervisor.get_channel("app", "lobby")  # a publisher's, outside any session
    supervisor.update()
    assert children.kept == [["channel:app/room"]]
    supervisor.stop("s1")
    supervisor.stop("s2")
    supervisor.last_probe = 0.0
    supervisor.update()
    assert children.kept[-1] == []


def test_an_ended_session_retires_its_uploader() -> None:
    supervisor, children, _ = make()
    begin(supervisor)
    assert children.retired == []
    supervisor.stop("s1")
    assert children.retired == ["uploader:s1"]


def test_a_restarted_controller_retires_the_uploaders_of_ended_sessions_only() -> None:
    first, _, log = make()
    begin(first, "done")
    first.stop("done")
    begin(first, "going", uid=10)
    supervisor, children, _ = make(log, uploaders_alive=["done", "going", "unknown"])
    supervisor.recover()
    assert children.retired == ["uploader:done"]
    assert supervisor.list_sessions() == ["going"]


def test_a_used_resource_is_code_7_and_an_event_a_running_uid_is_53() -> None:
    supervisor, _, log = make()
    c = begin(supervisor)
    with pytest.raises(Rejected) as repeated:
        supervisor.start(replace(c, sid="s2"), started(replace(c, sid="s2"), "r-s1"))
    assert (repeated.value.code, repeated.value.sid) == (7, "s1")
    assert types(log, "s1")[-1] == "StartRepeated" and log.read_stream("s2") == []
    with pytest.raises(Rejected) as running:
        supervisor.start(replace(c, sid="s3"), started(replace(c, sid="s3")))
    assert running.value.code == 53 and log.read_stream("s3") == []


def test_a_full_cluster_refuses_start_with_62_and_records_nothing() -> None:
    """Tried: a start while no node has room for its recorder, then the same start once room
    came back. The refusal is the spec's code 62 (retry), the log holds nothing of it."""
    supervisor, children, log = make(full=True)
    c = config("f1")
    with pytest.raises(Rejected) as full:
        supervisor.start(c, started(c))
    assert full.value.code == 62 and "could not reach recording service" in full.value.reason
    assert log.read_stream("f1") == []
    children.full = False
    supervisor.start(c, started(c))
    assert "RecordingStarted" in types(log, "f1")


def test_quotas_per_app_id_refuse_with_429_and_free_up_when_a_session_ends() -> None:
    """Tried: a fifth recording of one app (quota 4), a third channel (quota 2 channels), the
    same starts for another app, and a start once a session stopped; then a controller
    restarted on the log, which must count the sessions the log says still record."""
    supervisor, _, log = make()
    supervisor.quota = Quota(recordings_per_app=4, channels_per_app=2)

    def start(sid: str, cname: str, uid: int, appid: str = "app") -> None:
        c = replace(config(sid, uid=uid), cname=cname, appid=appid)
        supervisor.start(c, started(c))

    start("a1", "room1", 1)
    start("a2", "room1", 2)  # a second uid on a channel already recorded
    start("a3", "room2", 3)
    with pytest.raises(Rejected) as channels:
        start("a4", "room3", 4)
    assert channels.value.code == QUOTA_EXCEEDED and "2 channels" in channels.value.reason
    start("a5", "room1", 5)
    with pytest.raises(Rejected) as recordings:
        start("a6", "room2", 6)
    assert recordings.value.code == 429 and "4 recordings" in recordings.value.reason
    assert log.read_stream("a4") == [] and log.read_stream("a6") == []
    start("b1", "room3", 1, appid="other")  # another customer is not starved

    supervisor.stop("a1")
    start("a6", "room2", 6)

    again, _, _ = make(log)
    again.quota = supervisor.quota
    again.recover()
    with pytest.raises(Rejected) as after_restart:
        c = replace(config("a7", uid=7), cname="room1")
        again.start(c, started(c))
    assert after_restart.value.code == 429


def test_stop_records_the_end_after_the_recorder_drained() -> None:
    supervisor, children, log = make()
    begin(supervisor)
    assert supervisor.stop("s1") == "uploaded"
    assert types(log, "s1")[-4:] == ["StopRequested", "RecorderLeft", "RecordingStopped",
                                     "SessionExited"]
    assert children.calls[-1][0] == "release" and supervisor.list_sessions() == []
    with pytest.raises(Rejected) as again:
        supervisor.stop("s1")
    assert again.value.code == 404


@pytest.mark.parametrize("uploaded,exit_status", [("unknown", 1), ("backuped", 0)])
def test_the_exit_status_follows_the_uploads(uploaded: str, exit_status: int) -> None:
    supervisor, _, log = make(uploaded=uploaded)
    begin(supervisor)
    assert supervisor.stop("s1") == uploaded
    stopped, exited = log.read_stream("s1")[-2:]
    assert stopped.uploading_status == uploaded  # type: ignore[attr-defined]
    assert exited.exit_status == exit_status  # type: ignore[attr-defined]


def test_reconcile_stops_only_sessions_idle_past_max_idle_time() -> None:
    supervisor, children, log = make(idle=10)
    begin(supervisor, "short", max_idle_s=5)
    begin(supervisor, "long", max_idle_s=30, uid=10)
    supervisor.update()
    assert supervisor.list_sessions() == ["long"]
    assert [e.reason for e in log.read_stream("short") if type(e).__name__ == "StopRequested"] \
        == ["idle"]  # type: ignore[attr-defined]
    assert children.leave_codes == [4]  # LEAVE_CODE_NO_USERS, not a client leave
    assert log.read_stream("short")[-1].exit_status == 0  # type: ignore[attr-defined]
    supervisor.update()  # safe to repeat
    assert supervisor.list_sessions() == ["long"]
    supervisor.stop("long")
    assert children.leave_codes == [4, 16]


def test_reconcile_stops_a_session_once_its_resource_expired_hour_passed() -> None:
    now = [1_000]
    supervisor, children, log = make(now=now)
    c = replace(config(), expires_at_ms=5_000)
    supervisor.start(c, started(c))
    supervisor.update()
    assert supervisor.list_sessions() == ["s1"]
    now[0] = 5_000
    supervisor.last_probe = 0.0
    supervisor.update()
    assert supervisor.list_sessions() == []
    assert children.leave_codes == [16] and types(log, "s1")[-1] == "SessionExited"


def test_update_subscription_is_an_event_then_pushed_to_the_recorder() -> None:
    supervisor, children, log = make()
    begin(supervisor)
    supervisor.update_subscription("s1", UidLists(subscribe=("7",)), None)
    _, (recorder, audio, video) = children.calls[-1]
    assert recorder == "recorder:s1:1"
    assert audio == Subscription(only=frozenset({7})) and video == Subscription(enabled=False)
    assert types(log, "s1")[-1] == "SubscriptionUpdated"
    supervisor.stop("s1")
    with pytest.raises(Rejected) as ended:  # ended in between: refused, nothing appended
        supervisor.update_subscription("s1", UidLists(subscribe=("7",)), None)
    assert ended.value.code == 404 and types(log, "s1")[-1] == "SessionExited"


def test_update_layout_is_an_event_then_pushed_and_refused_outside_mix() -> None:
    supervisor, children, log = make()
    begin(supervisor)
    supervisor.update_layout("s1", Layout(mixed_video_layout=1))
    assert children.calls[-1] == ("layout", ("recorder:s1:1", Layout(mixed_video_layout=1)))
    assert types(log, "s1")[-1] == "LayoutUpdated"


def test_a_dead_recorder_is_failed_over_to_generation_two_with_a_new_uid() -> None:
    supervisor, children, log = make()
    begin(supervisor)
    children.dead.add("recorder:s1:1")
    supervisor.update()
    failed = [e for e in log.read_stream("s1") if isinstance(e, RecorderFailed)]
    assert [(e.failed_generation, e.generation, e.new_uid) for e in failed] == [(1, 2, 5001)]
    assert [(c.generation, c.recorder_uid) for c in children.configs] == [(1, 9), (2, 5001)]
    assert ("abandon", ("s1", 1)) in children.calls and children.fences[-1] == 2
    notices = callbacks.notifications(log.read_stream("s1"), "s1")
    assert [(n["eventType"], n["payload"]["details"].get("newUid")) for n in notices][-2:] == [
        (12, 5001), (40, None)]
    supervisor.update()  # the old generation's death is old news now
    assert len(children.configs) == 2


def test_an_update_made_during_the_failover_reaches_the_new_generation() -> None:
    supervisor, children, log = make()
    begin(supervisor)
    children.dead.add("recorder:s1:1")
    children.join_fails = True  # generation 2 is slow: we update before it is registered
    supervisor.running["s1"].recorder = None
    supervisor.update_layout("s1", Layout(mixed_video_layout=2))
    children.join_fails = False
    supervisor.fail_over("s1", 1, "recorder dead")
    assert children.configs[-1].layout.mixed_video_layout == 2
    assert children.calls[-1] == ("layout", ("recorder:s1:2", Layout(mixed_video_layout=2)))


def test_the_fourth_failure_ends_the_session_with_error_and_exit_status_one(
        tmp_path: Path) -> None:
    supervisor, children, log = make()
    begin(supervisor, workdir=tmp_path)
    for generation in (1, 2, 3, 4):
        children.dead.add(f"recorder:s1:{generation}")
        supervisor.update()
    assert [c.generation for c in children.configs] == [1, 2, 3, 4]
    view = status.fold(log.read_stream("s1"))
    assert view.ended and view.status == status.FAILED
    notices = callbacks.notifications(log.read_stream("s1"), "s1")
    kinds = [n["eventType"] for n in notices]
    assert kinds.count(12) == 3 and kinds[-1] == 11
    assert notices[-1]["payload"]["details"]["exitStatus"] == 1
    error = next(n for n in notices if n["eventType"] == 1)
    assert error["payload"]["details"]["module"] == 0
    assert supervisor.list_sessions() == []


def test_a_recorder_that_never_joins_ends_the_session_with_code_52() -> None:
    supervisor, _, log = make(join_fails=True)
    begin(supervisor)
    notices = callbacks.notifications(log.read_stream("s1"), "s1")
    assert [n["payload"]["details"].get("errorCode") for n in notices if n["eventType"] == 1] \
        == [52]
    assert status.fold(log.read_stream("s1")).ended
    assert supervisor.list_sessions() == []


def test_a_recorder_lost_while_stopping_is_closed_from_the_log(tmp_path: Path) -> None:
    supervisor, children, log = make(stop_fails=True)
    begin(supervisor, workdir=tmp_path)
    assert supervisor.stop("s1") == "uploaded"  # the playlist of no slices: nothing to upload
    assert types(log, "s1")[-3:] == ["RecorderLeft", "RecordingStopped", "SessionExited"]
    assert children.fences[-1] == 2  # closed as the generation after the lost one
    assert ("abandon", ("s1", 1)) in children.calls  # its channel buffer goes, and no longer
    assert children.retired == ["uploader:s1"]  # keeps the channel alive


def test_a_restarted_controller_fails_recording_sessions_over_and_finishes_stopping_ones(
        tmp_path: Path) -> None:
    first, _, log = make()
    begin(first, "rec", workdir=tmp_path)
    begin(first, "halt", uid=10, workdir=tmp_path)
    first.running["halt"].stopping = True
    log.append([*_stop_requested("halt")])

    again, children, _ = make(log)
    assert sorted(again.recover()) == ["halt", "rec"]
    assert [(c.sid, c.generation) for c in children.configs] == [("rec", 2)]
    assert status.fold(log.read_stream("halt")).ended
    assert again.list_sessions() == ["rec"]
    with pytest.raises(Rejected) as used:  # the indexes came back from the log too
        c = config("other")
        again.start(c, started(c, "r-rec"))
    assert used.value.code == 7


def _stop_requested(sid: str) -> list[Any]:
    return [StopRequested(stream_id=sid, at_ms=1, reason="api")]
