"""The recording service behind the REST API: commands to the controller, reads from the log.

Implements `cloudrec.api.backend.RecordingBackend`. `query` and `stop` answer from the status
projection, kept by a projection runner that first catches up to the log's end, so what the API
says is what the log says, and `query` right after `start` already reflects the start.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from cloudrec.actors.recorder.config import RecordingConfig
from cloudrec.actors.recorder.naming import playlist_name
from cloudrec.actors.session.handle import ControllerHandle
from cloudrec.api.errors import ApiError
from cloudrec.api.requests import StartRequest, UpdateLayoutRequest, UpdateRequest
from cloudrec.api.resource import ResourceGrant
from cloudrec.config import (
    StoragePlan,
    audio_lists,
    layout_of,
    recording_config,
    rules,
    video_lists,
)
from cloudrec.events.log import EventLog
from cloudrec.events.recording import (
    RecordingFailed,
    RecordingStarted,
    SessionExited,
    StartRepeated,
)
from cloudrec.events.subscription import SubscriptionUpdated, UidLists
from cloudrec.projections import status, subscription
from cloudrec.projections.runner import MemoryViewStore, ProjectionRunner
from cloudrec.projections.status import StatusView

log = logging.getLogger(__name__)


def _now_ms() -> int:
    return int(time.time() * 1000)


class RecordingService:
    def __init__(self, events: EventLog, controller: ControllerHandle, workdir: Path,
                 slice_seconds: float = 15.0, clock_ms: Callable[[], int] = _now_ms,
                 storage: StoragePlan | None = None,
                 status_runner: ProjectionRunner | None = None) -> None:
        self.events, self.controller, self.workdir = events, controller, workdir
        self.storage = storage or StoragePlan()
        self.slice_seconds, self.clock_ms = slice_seconds, clock_ms
        self.status_runner = status_runner or ProjectionRunner(events, status, MemoryViewStore())
        self.by_resource: dict[str, str] = {}
        self.lock = threading.RLock()
        self._index()

    def _index(self) -> None:
        """Rebuild resource → sid from the log (a restarted API still refuses reuse)."""
        position = 0
        while batch := self.events.read_all(after=position, limit=5000):
            position = batch[-1][0]
            for _, event in batch:
                if isinstance(event, RecordingStarted):
                    self.by_resource[event.resource_id] = event.stream_id

    # -- reads ---------------------------------------------------------------------------
    def view(self, sid: str) -> StatusView:
        """`sid`'s status once the runner has folded every append made before this call."""
        with self.lock:
            self.status_runner.catch_up()
            view: StatusView = self.status_runner.view(sid)
            return view

    def _live(self, appid: str, sid: str, resource_id: str, mode: str) -> StatusView:
        view = self.view(sid)
        if not view.appid or view.ended:
            raise ApiError(404, "failed to find worker")
        if view.appid != appid or view.resource_id != resource_id:
            raise ApiError(1003, "appid or sid does not match the resourceId")
        if view.mode and view.mode != mode:
            raise ApiError(2, f"this recording was started in {view.mode} mode, not {mode}")
        return view

    # -- commands ------------------------------------------------------------------------
    def start(self, appid: str, cname: str, uid: str, resource_id: str, mode: str,
              request: StartRequest, grant: ResourceGrant) -> str:
        destination = self.storage.destination(request.client_request.storage_config)
        with self.lock:
            if resource_id in self.by_resource:
                self._repeated(self.by_resource[resource_id])
            if self._running(appid, cname, uid):
                raise ApiError(53, "a recorder with this appid, cname and uid is already running")
            sid = uuid.uuid4().hex
            self.by_resource[resource_id] = sid
        config = recording_config(sid, appid, request, self.workdir, self.slice_seconds,
                                  destination, mode)
        if grant is not None:  # spec decision 6: the session ends when its API window closes
            config = replace(config, expires_at_ms=self.clock_ms()
                             + grant.resource_expired_hour * 3_600_000)
        self.events.append([self._started(config, resource_id, mode, request)])
        try:
            self.controller.start(config)
        except Exception as error:  # "200 then die": the failure is in the events, query 404s
            log.exception("session %s could not start", sid)
            self._died(sid, str(error))
        return sid

    def _died(self, sid: str, reason: str) -> None:
        at = self.clock_ms()
        self.events.append([
            RecordingFailed(stream_id=sid, at_ms=at, module=2, error_code=52,
                            message=f"recorder did not start: {reason[:200]}"),
            SessionExited(stream_id=sid, at_ms=at, exit_status=1)])

    def _repeated(self, sid: str) -> None:
        self.events.append([StartRepeated(stream_id=sid, at_ms=self.clock_ms())])
        raise ApiError(7, "recording is already running for this resourceId", sid=sid)

    def _running(self, appid: str, cname: str, uid: str) -> bool:
        for sid in self.by_resource.values():
            view = self.view(sid)
            if (view.appid, view.cname, view.uid) == (appid, cname, uid) and not view.ended:
                return True
        return False

    def _started(self, config: RecordingConfig, resource_id: str, mode: str,
                 request: StartRequest) -> RecordingStarted:
        playlist = ""  # individual mode: one playlist per user's stream, named as they start
        if mode != "individual":
            playlist = playlist_name(list(config.file_prefix), config.sid, config.cname)
        return RecordingStarted(
            stream_id=config.sid, at_ms=self.clock_ms(), appid=config.appid,
            cname=config.cname, uid=str(config.recorder_uid), resource_id=resource_id,
            mode=mode, config=request.public_config().get("clientRequest", {}),
            av_file_types=list(config.av_file_types), file_prefix=list(config.file_prefix),
            playlist=playlist)

    def query(self, appid: str, sid: str, resource_id: str, mode: str) -> dict[str, Any]:
        return status.server_response(self._live(appid, sid, resource_id, mode))

    def update(self, appid: str, sid: str, resource_id: str, mode: str,
               request: UpdateRequest) -> None:
        """`streamSubscribe`: replace the lists of the media it carries, as an event, then on
        the running recorder."""
        self._live(appid, sid, resource_id, mode)
        change = request.client_request.stream_subscribe
        if change is None or (change.audio_uid_list is None and change.video_uid_list is None):
            raise ApiError(2, "clientRequest.streamSubscribe needs audioUidList or videoUidList")
        current = subscription.fold(self.events.read_stream(sid), sid)
        event = SubscriptionUpdated(
            stream_id=sid, at_ms=self.clock_ms(),
            audio=_lists(change.audio_uid_list, audio_lists, "audio", current.stream_types != 1),
            video=_lists(change.video_uid_list, video_lists, "video", current.stream_types != 0))
        self.events.append([event])
        updated = subscription.apply(current, event)
        self.controller.update_subscription(sid, *rules(updated.stream_types, updated.audio,
                                                        updated.video))

    def update_layout(self, appid: str, sid: str, resource_id: str,
                      request: UpdateLayoutRequest) -> None:
        self._live(appid, sid, resource_id, "mix")  # updateLayout is mix-only (§7)
        self.controller.update_layout(sid, layout_of(request.client_request))

    def stop(self, appid: str, sid: str, resource_id: str, mode: str) -> dict[str, Any]:
        view = self._live(appid, sid, resource_id, mode)
        if view.stopped:
            raise ApiError(49, "this recording was already stopped")
        self.controller.stop(sid)
        stopped = self.view(sid)
        if not stopped.heard_users:  # the session is over all the same (§9)
            raise ApiError(435, "nothing recorded: no user published in the channel")
        return status.stop_response(stopped)


def _lists(part: Any, lists_of: Callable[[Any], UidLists | None], medium: str,
           allowed: bool) -> UidLists | None:
    """One medium's new lists, or None when the update does not carry that medium."""
    if part is None:
        return None
    if not allowed:
        raise ApiError(2, f"{medium} subscription lists are not allowed with this streamTypes")
    lists = lists_of(part)
    if lists is None:
        raise ApiError(2, f"{medium}UidList needs a subscribe or an unSubscribe list")
    return lists
