"""A fake of the supervisor's child-actor wrapper, and a controller handle over the real
supervisor, for tests without Ray. The fake recorder writes what a real one writes first
(RecorderLaunched, and a user's stream when the channel is not silent)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cloudrec.actors.recorder.config import RecordingConfig, Subscription
from cloudrec.actors.session.supervisor import Supervisor
from cloudrec.actors.uploader.uploader import UploadJob
from cloudrec.events.layout import Layout
from cloudrec.events.log import EventLog
from cloudrec.events.recording import RecorderLaunched, RecorderLeft, RecordingStarted
from cloudrec.events.segment import StreamStateChanged
from cloudrec.events.subscription import UidLists


class Inline(ThreadPoolExecutor):
    """Runs submitted work at once, on the caller's thread: deterministic tests."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # noqa: B036 - handed to the future as Ray would
            future.set_exception(error)
        return future


@dataclass
class FakeChildren:
    log: EventLog
    idle: float = 0.0  # what every recorder reports as its channel's idle time
    uploaded: str = "uploaded"
    silent: bool = False  # nobody publishes: no user's stream is heard
    join_fails: bool = False
    full: bool = False  # no node has room for a recorder
    stop_fails: bool = False
    dead: set[str] = field(default_factory=set)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    configs: list[RecordingConfig] = field(default_factory=list)
    leave_codes: list[int] = field(default_factory=list)
    fences: list[int] = field(default_factory=list)
    uploads: list[UploadJob] = field(default_factory=list)
    uploaders_alive: list[str] = field(default_factory=list)  # sids, as Ray lists them
    kept: list[list[str]] = field(default_factory=list)  # each keep_channels call
    retired: list[str] = field(default_factory=list)

    def room(self, config: RecordingConfig) -> str | None:
        return "0.11 CPU" if self.full else None

    def channel(self, appid: str, cname: str) -> str:
        self.calls.append(("channel", (appid, cname)))
        return f"channel:{appid}/{cname}"

    def uploader(self, config: RecordingConfig) -> str:
        self.calls.append(("uploader", config.sid))
        return f"uploader:{config.sid}"

    def uploader_ready(self, uploader: Any, timeout_s: float = 60) -> None:
        self.calls.append(("uploader_ready", uploader))

    def find_uploader(self, sid: str) -> str:
        return f"uploader:{sid}"

    def list_uploaders(self) -> list[str]:
        return list(self.uploaders_alive)

    def keep_channels(self, channels: list[str]) -> None:
        self.kept.append(list(channels))

    def retire(self, uploader: str | None) -> None:
        if uploader is not None:
            self.retired.append(uploader)

    def layout(self, sid: str, layout: Layout) -> str:
        return f"layout:{sid}"

    def recorder(self, config: RecordingConfig, channel: Any, uploader: Any,
                 timeout_s: float) -> str:
        if self.join_fails:
            raise TimeoutError(f"no answer in {timeout_s} s")
        self.configs.append(config)
        self.log.append([RecorderLaunched(stream_id=config.sid, at_ms=2,
                                          generation=config.generation,
                                          recorder_uid=config.recorder_uid)])
        if not self.silent and config.generation == 1:
            self.log.append([StreamStateChanged(
                stream_id=config.sid, at_ms=2, generation=config.generation, track="audio",
                stream_uid="7", state=0, utc_ms=2)])
        return f"recorder:{config.sid}:{config.generation}"

    def push_layout(self, layout_actor: Any, recorder: Any, layout: Layout) -> None:
        self.calls.append(("layout", (recorder, layout)))

    def push_subscription(self, recorder: Any, audio: Subscription, video: Subscription) -> None:
        self.calls.append(("subscription", (recorder, audio, video)))

    def fence_uploader(self, uploader: Any, generation: int) -> None:
        self.fences.append(generation)

    def upload(self, uploader: Any, job: UploadJob) -> str:
        self.uploads.append(job)
        return self.uploaded

    def stop(self, recorder: str, leave_code: int) -> str:
        self.calls.append(("stop", recorder))
        if self.stop_fails:
            raise RuntimeError("actor died")
        self.leave_codes.append(leave_code)
        _, sid, generation = recorder.split(":")
        self.log.append([RecorderLeft(stream_id=sid, at_ms=3, generation=int(generation),
                                      leave_code=leave_code)])
        return self.uploaded

    def health(self, recorder: str, timeout_s: float) -> str:
        return "dead" if recorder in self.dead else "alive"

    def idle_s(self, recorder: str) -> float:
        return self.idle

    def abandon(self, channel: Any, sid: str, generation: int) -> None:
        self.calls.append(("abandon", (sid, generation)))

    def release(self, recorder: Any, layout: Any, uploader: Any, zombies: list[Any]) -> None:
        self.calls.append(("release", (recorder, tuple(zombies))))
        self.retire(uploader)

    def wait_warm(self, timeout_s: float) -> bool:
        return True


class LocalController:
    """`ControllerHandle`'s interface over a supervisor in this process."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor

    def start(self, config: RecordingConfig, started: RecordingStarted) -> None:
        self.supervisor.start(config, started)

    def update_layout(self, sid: str, layout: Layout) -> None:
        self.supervisor.update_layout(sid, layout)

    def update_subscription(self, sid: str, audio: UidLists | None,
                            video: UidLists | None) -> None:
        self.supervisor.update_subscription(sid, audio, video)

    def stop(self, sid: str) -> str:
        return self.supervisor.stop(sid)
