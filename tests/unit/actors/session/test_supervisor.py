"""The supervisor's lifecycle logic with a fake child-actor wrapper: no Ray, no media."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cloudrec.actors.recorder.config import RecordingConfig, Subscription
from cloudrec.actors.session.supervisor import Supervisor
from cloudrec.events.layout import Layout
from cloudrec.events.memory import MemoryEventLog


@dataclass
class FakeChildren:
    idle_s: float = 0.0
    uploaded: str = "uploaded"
    calls: list[tuple[str, Any]] = field(default_factory=list)
    fail_idle_probe: bool = False
    leave_codes: list[int] = field(default_factory=list)

    def channel(self, appid: str, cname: str) -> str:
        self.calls.append(("channel", (appid, cname)))
        return f"channel:{appid}/{cname}"

    def launch(self, config: RecordingConfig, channel: Any) -> str:
        self.calls.append(("launch", (config.sid, channel)))
        return f"actors:{config.sid}"

    def update_layout(self, actors: Any, layout: Layout) -> None:
        self.calls.append(("layout", layout.mixed_video_layout))

    def stop(self, actors: Any, leave_code: int) -> str:
        self.calls.append(("stop", actors))
        self.leave_codes.append(leave_code)
        return self.uploaded

    def update_subscription(self, actors: Any, audio: Subscription, video: Subscription) -> None:
        self.calls.append(("subscription", (actors, audio, video)))

    def get_idle_s(self, actors: Any) -> float:
        if self.fail_idle_probe:
            raise RuntimeError("recorder unreachable")
        return self.idle_s

    def release(self, actors: Any) -> None:
        self.calls.append(("release", actors))


def config(sid: str = "s1", max_idle_s: int = 30) -> RecordingConfig:
    return RecordingConfig(sid=sid, appid="app", cname="room", recorder_uid=9, generation=1,
                           workdir=Path("/tmp/unused"), max_idle_s=max_idle_s)


def types(log: MemoryEventLog, sid: str) -> list[str]:
    return [type(e).__name__ for e in log.read_stream(sid)]


def test_channels_are_created_once_per_app_and_name() -> None:
    children = FakeChildren()
    supervisor = Supervisor(MemoryEventLog(), children, clock_ms=lambda: 1)
    supervisor.start(config("s1"))
    supervisor.start(config("s2"))
    assert [c for c in children.calls if c[0] == "channel"] == [("channel", ("app", "room"))]
    assert supervisor.list_sessions() == ["s1", "s2"]


def test_stop_records_the_end_after_the_recorder_drained() -> None:
    log, children = MemoryEventLog(), FakeChildren()
    supervisor = Supervisor(log, children, clock_ms=lambda: 1)
    supervisor.start(config())
    assert supervisor.stop("s1") == "uploaded"
    assert types(log, "s1") == ["StopRequested", "RecordingStopped", "SessionExited"]
    assert [c[0] for c in children.calls][-2:] == ["stop", "release"]
    assert supervisor.stop("s1") == "unknown"  # a second stop finds nothing to do


def test_failed_uploads_end_abnormally() -> None:
    log = MemoryEventLog()
    supervisor = Supervisor(log, FakeChildren(uploaded="unknown"), clock_ms=lambda: 1)
    supervisor.start(config())
    supervisor.stop("s1")
    stopped, exited = log.read_stream("s1")[1:]
    assert stopped.uploading_status == "unknown"  # type: ignore[attr-defined]
    assert exited.exit_status == 1  # type: ignore[attr-defined]


def test_files_in_the_backup_end_normally_as_backuped() -> None:
    log = MemoryEventLog()
    supervisor = Supervisor(log, FakeChildren(uploaded="backuped"), clock_ms=lambda: 1)
    supervisor.start(config())
    assert supervisor.stop("s1") == "backuped"
    stopped, exited = log.read_stream("s1")[1:]
    assert stopped.uploading_status == "backuped"  # type: ignore[attr-defined]
    assert exited.exit_status == 0  # type: ignore[attr-defined]


def test_reconcile_stops_only_sessions_idle_past_max_idle_time() -> None:
    log, children = MemoryEventLog(), FakeChildren(idle_s=10)
    supervisor = Supervisor(log, children, clock_ms=lambda: 1)
    supervisor.start(config("short", max_idle_s=5))
    supervisor.start(config("long", max_idle_s=30))
    supervisor.update()
    assert supervisor.list_sessions() == ["long"]
    assert log.read_stream("short")[0].reason == "idle"  # type: ignore[attr-defined]
    assert children.leave_codes == [4]  # LEAVE_CODE_NO_USERS, not a client leave
    assert types(log, "short")[-1] == "SessionExited"
    assert log.read_stream("short")[-1].exit_status == 0  # type: ignore[attr-defined]
    supervisor.update()  # safe to repeat
    assert supervisor.list_sessions() == ["long"]
    supervisor.stop("long")
    assert children.leave_codes == [4, 16]


def test_reconcile_stops_a_session_once_its_resource_expired_hour_passed() -> None:
    now = [1_000]
    log, children = MemoryEventLog(), FakeChildren(idle_s=0)
    supervisor = Supervisor(log, children, clock_ms=lambda: now[0])
    supervisor.start(replace(config("s1"), expires_at_ms=5_000))
    supervisor.update()
    assert supervisor.list_sessions() == ["s1"]
    now[0] = 5_000
    supervisor.update()
    assert supervisor.list_sessions() == []
    assert log.read_stream("s1")[0].reason == "expired"  # type: ignore[attr-defined]
    assert children.leave_codes == [16] and types(log, "s1")[-1] == "SessionExited"


def test_update_subscription_reaches_the_recorder_and_the_relaunch_config() -> None:
    children = FakeChildren()
    supervisor = Supervisor(MemoryEventLog(), children, clock_ms=lambda: 1)
    supervisor.start(config("s1"))
    audio, video = Subscription(only=frozenset({7})), Subscription(never=frozenset({8}))
    supervisor.update_subscription("s1", audio, video)
    assert children.calls[-1] == ("subscription", ("actors:s1", audio, video))
    assert (supervisor.configs["s1"].audio, supervisor.configs["s1"].video) == (audio, video)
    supervisor.stop("s1")
    supervisor.update_subscription("s1", audio, video)  # ended in between: nothing happens
    assert children.calls[-1][0] == "release"


def test_a_failing_probe_is_logged_and_the_loop_goes_on() -> None:
    children = FakeChildren(fail_idle_probe=True)
    supervisor = Supervisor(MemoryEventLog(), children, clock_ms=lambda: 1)
    supervisor.start(config())
    supervisor.update()
    assert supervisor.list_sessions() == ["s1"]
