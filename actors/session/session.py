"""A recording session's write side: its state folded from its events, and every command as a
pure function `(state, inputs) -> new events` (eventsourcing's aggregate7 style).

The supervisor is the only caller: it folds the session's stream, calls a command, appends what
it returns, and then moves the actors toward the new state. A command that cannot be taken
raises `Rejected` with the API's own code; nothing is appended then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import singledispatch
from typing import Any

from cloudrec.actors.recorder.config import AUDIO_ONLY, VIDEO_ONLY
from cloudrec.events.envelope import Event
from cloudrec.events.layout import Layout, LayoutUpdated
from cloudrec.events.recording import (
    RecorderFailed,
    RecorderLaunched,
    RecorderLeft,
    RecordingFailed,
    RecordingPlanned,
    RecordingStarted,
    RecordingStopped,
    SessionExited,
    StartRepeated,
    StopRequested,
    UploadingStatus,
)
from cloudrec.events.subscription import SubscriptionUpdated, UidLists
from cloudrec.projections import subscription
from cloudrec.projections.recovery import layout_from_config
from cloudrec.projections.subscription import SubscriptionView

MAX_FAILOVERS = 3  # spec §14: the 4th failure ends the recording
RECORDER_MODULE, SERVICE_MODULE = 0, 2
ERR_FAILED, START_TIMEOUT = 1, 52  # event 1 errorCode: generic failure; start timeout (§10)
LEAVE_CODE_INIT = 0


class Rejected(Exception):
    """A command the session's state does not allow: `code` and `reason` as the API answers."""

    def __init__(self, code: int, reason: str, sid: str = "") -> None:
        super().__init__(code, reason, sid)
        self.code, self.reason, self.sid = code, reason, sid


@dataclass(frozen=True)
class SessionState:
    sid: str
    started: RecordingStarted | None = None
    plan: Mapping[str, Any] | None = None
    generation: int = 1  # the generation that owns the session: the log's fence
    joined: int = 0  # the newest generation whose RecorderLaunched is in the log
    failovers: int = 0
    next_uid: int = 0  # the uid the generation after a failure joins with
    stop_reason: str = ""
    left: bool = False  # RecorderLeft: the recording's files are closed
    ended: bool = False
    layout: Layout = Layout()
    lists: SubscriptionView = SubscriptionView(sid="")

    @property
    def mode(self) -> str:
        return self.started.mode if self.started else ""

    @property
    def recording(self) -> bool:
        """Started, not ended, no stop asked: a recorder generation should be running."""
        return self.started is not None and not self.ended and not self.stop_reason


def fold(events: Iterable[Event], sid: str) -> SessionState:
    state = SessionState(sid=sid, lists=SubscriptionView(sid=sid))
    for event in events:
        state = evolve(state, event)
    return state


def evolve(state: SessionState, event: Event) -> SessionState:
    """Every event moves the fence up to its generation: whoever wrote it owns the session."""
    if event.generation > state.generation:
        state = replace(state, generation=event.generation)
    return _evolve(event, state)


@singledispatch
def _evolve(event: Event, state: SessionState) -> SessionState:
    return state  # media, uploads, channel events: the recorder's, not the session's decisions


@_evolve.register
def _(event: RecordingStarted, state: SessionState) -> SessionState:
    return replace(state, started=event, layout=layout_from_config(event.config),
                   lists=subscription.apply(state.lists, event))


@_evolve.register
def _(event: RecordingPlanned, state: SessionState) -> SessionState:
    return replace(state, plan=event.plan)


@_evolve.register
def _(event: RecorderLaunched, state: SessionState) -> SessionState:
    return replace(state, joined=max(state.joined, event.generation),
                   generation=max(state.generation, event.generation))


@_evolve.register
def _(event: RecorderFailed, state: SessionState) -> SessionState:
    return replace(state, failovers=state.failovers + 1, next_uid=event.new_uid,
                   generation=max(state.generation, event.generation))


@_evolve.register
def _(event: LayoutUpdated, state: SessionState) -> SessionState:
    return replace(state, layout=event.layout)


@_evolve.register
def _(event: SubscriptionUpdated, state: SessionState) -> SessionState:
    return replace(state, lists=subscription.apply(state.lists, event))


@_evolve.register
def _(event: StopRequested, state: SessionState) -> SessionState:
    return replace(state, stop_reason=state.stop_reason or event.reason)


@_evolve.register
def _(event: RecorderLeft, state: SessionState) -> SessionState:
    return replace(state, left=True) if event.generation >= state.generation else state


@_evolve.register
def _(event: SessionExited, state: SessionState) -> SessionState:
    return replace(state, ended=True)


# -- commands ----------------------------------------------------------------------------------
def start(state: SessionState, started: RecordingStarted, plan: dict[str, Any],
          storage: str = "") -> list[Event]:
    if state.started is not None:
        raise Rejected(7, "recording is already running for this resourceId")
    return [started, RecordingPlanned(stream_id=state.sid, at_ms=started.at_ms, plan=plan,
                                      storage=storage)]


def repeat_start(state: SessionState, at_ms: int) -> list[Event]:
    """A second `start` with the session's resourceId: callback 3, code 7."""
    return [StartRepeated(stream_id=state.sid, at_ms=at_ms)]


def update_subscription(state: SessionState, audio: UidLists | None, video: UidLists | None,
                        at_ms: int) -> list[Event]:
    """`update`'s streamSubscribe: replaces the lists of the media it carries (§6)."""
    _require_recording(state)
    if audio is None and video is None:
        raise Rejected(2, "clientRequest.streamSubscribe needs audioUidList or videoUidList")
    for medium, lists, forbidden in (("audio", audio, VIDEO_ONLY), ("video", video, AUDIO_ONLY)):
        if lists is not None and state.lists.stream_types == forbidden:
            raise Rejected(2, f"{medium} subscription lists are not allowed with this "
                              f"streamTypes")
    return [SubscriptionUpdated(stream_id=state.sid, at_ms=at_ms, audio=audio, video=video)]


def update_layout(state: SessionState, layout: Layout, at_ms: int) -> list[Event]:
    _require_recording(state)
    if state.mode != "mix":
        raise Rejected(2, f"updateLayout is for mix recordings; this one is {state.mode}")
    return [LayoutUpdated(stream_id=state.sid, at_ms=at_ms, layout=layout)]


def stop(state: SessionState, reason: str, at_ms: int) -> list[Event]:
    if state.started is None or state.ended:
        raise Rejected(404, "failed to find worker")
    if state.stop_reason:
        raise Rejected(49, "this recording was already stopped")
    return [StopRequested(stream_id=state.sid, at_ms=at_ms, reason=reason)]


def fail(state: SessionState, generation: int, reason: str, at_ms: int,
         new_uid: int) -> list[Event]:
    """Generation `generation` died. The next one takes over, unless this was the 4th failure
    (or the session was stopping: then it is finished without a recorder). A report about a
    generation that no longer owns the session is old news: nothing happens."""
    if generation != state.generation or state.ended or state.started is None:
        return []
    last = state.failovers >= MAX_FAILOVERS
    failed = RecorderFailed(stream_id=state.sid, at_ms=at_ms, generation=generation + 1,
                            failed_generation=generation, reason=reason[:300],
                            new_uid=0 if last or state.stop_reason else new_uid)
    if not last:
        return [failed]
    return [failed, RecordingFailed(
        stream_id=state.sid, at_ms=at_ms, module=RECORDER_MODULE, error_code=ERR_FAILED,
        message=f"recorder failed {state.failovers + 1} times; at most {MAX_FAILOVERS} "
                f"fail-overs per recording"), *_stop_once(state, "failed", at_ms)]


def time_out(state: SessionState, generation: int, at_ms: int, timeout_s: float) -> list[Event]:
    """Generation `generation` did not join within the start timeout: callback 1 (52), the
    session ends abnormally."""
    if generation != state.generation or state.ended or state.joined >= generation:
        return []
    return [RecordingFailed(stream_id=state.sid, at_ms=at_ms, module=SERVICE_MODULE,
                            error_code=START_TIMEOUT,
                            message=f"recorder did not join within {timeout_s:g} s"),
            *_stop_once(state, "failed", at_ms),
            RecordingStopped(stream_id=state.sid, at_ms=at_ms, uploading_status="unknown"),
            SessionExited(stream_id=state.sid, at_ms=at_ms, exit_status=1)]


def leave(state: SessionState, leave_code: int, at_ms: int) -> list[Event]:
    """The recording's files were closed without a recorder (it was lost while stopping)."""
    if state.left or state.ended:
        return []
    return [RecorderLeft(stream_id=state.sid, at_ms=at_ms, generation=state.generation,
                         leave_code=leave_code)]


def finish(state: SessionState, uploading: UploadingStatus, at_ms: int) -> list[Event]:
    """Every file is closed and handed to storage: the session's end."""
    if state.ended:
        return []
    abnormal = uploading == "unknown" or state.stop_reason == "failed"
    return [RecordingStopped(stream_id=state.sid, at_ms=at_ms, uploading_status=uploading),
            SessionExited(stream_id=state.sid, at_ms=at_ms, exit_status=1 if abnormal else 0)]


def _stop_once(state: SessionState, reason: str, at_ms: int) -> list[Event]:
    if state.stop_reason:
        return []
    return [StopRequested(stream_id=state.sid, at_ms=at_ms, reason=reason)]


def _require_recording(state: SessionState) -> None:
    if state.started is None or state.ended:
        raise Rejected(404, "failed to find worker")
    if state.stop_reason:
        raise Rejected(404, "failed to find worker: the recording is stopping")
