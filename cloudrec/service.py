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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from cloudrec.actors.recorder.config import RecordingConfig
from cloudrec.actors.recorder.naming import playlist_name
from cloudrec.actors.session.handle import ControllerHandle
from cloudrec.actors.session.session import Rejected
from cloudrec.api.errors import ApiError
from cloudrec.api.requests import StartRequest, UpdateLayoutRequest, UpdateRequest
from cloudrec.api.resource import ResourceGrant
from cloudrec.config import (
    StoragePlan,
    audio_lists,
    layout_of,
    recording_config,
    video_lists,
)
from cloudrec.events.log import EventLog, partition_of
from cloudrec.events.recording import RecordingStarted
from cloudrec.events.subscription import UidLists
from cloudrec.projections import metrics, status
from cloudrec.projections.runner import MemoryViewStore, ProjectionRunner, SharedCatchUp
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
        self.caught_up = SharedCatchUp(self.status_runner)
        self._metrics, self._metrics_lock = metrics.Metrics(), threading.Lock()

    # -- reads ---------------------------------------------------------------------------
    def view(self, sid: str) -> StatusView:
        """`sid`'s status once the runner has folded every append made before this call
        (concurrent calls share one read of the log, no call holds a lock while it reads)."""
        self.caught_up.catch_up([partition_of(sid, self.events.partitions)])
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

    # -- operations ----------------------------------------------------------------------
    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy when the controller answers with its sessions recovered and the log reads."""
        try:
            answer = self.controller.health()
            self.events.read_all(after=self._metrics.positions.get(0, 0), limit=1)
        except Exception as error:  # anything that keeps an answer from coming is unhealthy
            return False, {"status": "unavailable", "reason": type(error).__name__}
        if not answer.get("recovered"):
            return False, {"status": "starting", "reason": "recovering sessions from the log"}
        return True, {"status": "ok", "sessions": int(answer.get("sessions", 0))}

    def metrics(self) -> str:
        """Prometheus text: counters folded from the log, the status projection's lag behind
        it, and the live recorders' CPU (left out when the controller does not answer)."""
        with self._metrics_lock:
            behind = 0
            for p in range(self.events.partitions):
                folded_by_status = self.status_runner.store.position(p)
                while batch := self.events.read_all(after=self._metrics.positions.get(p, 0),
                                                    limit=5000, partition=p):
                    self._metrics = metrics.fold(batch, self._metrics, p)
                behind += max(0, self._metrics.positions.get(p, 0) - folded_by_status)
            lag, current = {"status": behind}, self._metrics
        try:
            cpu: float | None = self.controller.health().get("recorder_cpu", 0.0)
        except Exception:  # the counters from the log are still worth answering
            cpu = None
        return metrics.exposition(current, lag, cpu)

    # -- commands ------------------------------------------------------------------------
    def start(self, appid: str, cname: str, uid: str, resource_id: str, mode: str,
              request: StartRequest, grant: ResourceGrant) -> str:
        """Validated here, decided and appended by the supervisor: answers once the start is
        in the log (the recorder is launched from there)."""
        destination = self.storage.destination(request.client_request.storage_config)
        sid = uuid.uuid4().hex
        config = recording_config(sid, appid, request, self.workdir, self.slice_seconds,
                                  destination, mode)
        if grant is not None:  # spec decision 6: the session ends when its API window closes
            config = replace(config, expires_at_ms=self.clock_ms()
                             + grant.resource_expired_hour * 3_600_000)
        with _answer():
            self.controller.start(config, self._started(config, resource_id, mode, request))
        return sid

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
        """`streamSubscribe`: replace the lists of the media it carries."""
        self._live(appid, sid, resource_id, mode)
        change = request.client_request.stream_subscribe
        if change is None or (change.audio_uid_list is None and change.video_uid_list is None):
            raise ApiError(2, "clientRequest.streamSubscribe needs audioUidList or videoUidList")
        with _answer(sid):
            self.controller.update_subscription(
                sid, _lists(change.audio_uid_list, audio_lists, "audio"),
                _lists(change.video_uid_list, video_lists, "video"))

    def update_layout(self, appid: str, sid: str, resource_id: str,
                      request: UpdateLayoutRequest) -> None:
        self._live(appid, sid, resource_id, "mix")  # updateLayout is mix-only (§7)
        with _answer(sid):
            self.controller.update_layout(sid, layout_of(request.client_request))

    def stop(self, appid: str, sid: str, resource_id: str, mode: str) -> dict[str, Any]:
        view = self._live(appid, sid, resource_id, mode)
        if view.stopped:
            raise ApiError(49, "this recording was already stopped")
        with _answer(sid):
            self.controller.stop(sid)
        stopped = self.view(sid)
        if not stopped.heard_users:  # the session is over all the same (§9)
            raise ApiError(435, "nothing recorded: no user published in the channel")
        return status.stop_response(stopped)


@contextmanager
def _answer(sid: str | None = None) -> Iterator[None]:
    """The supervisor's refusals as the API's errors."""
    try:
        yield
    except Rejected as rejected:
        raise ApiError(rejected.code, rejected.reason, sid=rejected.sid or sid) from None


def _lists(part: Any, lists_of: Callable[[Any], UidLists | None],
           medium: str) -> UidLists | None:
    """One medium's new lists, or None when the update does not carry that medium."""
    if part is None:
        return None
    lists = lists_of(part)
    if lists is None:
        raise ApiError(2, f"{medium}UidList needs a subscribe or an unSubscribe list")
    return lists
