"""The recording service's rules with an in-memory log and a fake controller (no Ray)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cloudrec.actors.recorder.config import RecordingConfig, Subscription
from cloudrec.actors.session.supervisor import Quota, Supervisor
from cloudrec.api.errors import ApiError
from cloudrec.api.requests import StartRequest, UpdateLayoutRequest, UpdateRequest
from cloudrec.api.resource import ResourceGrant
from cloudrec.events.memory import MemoryEventLog
from cloudrec.events.subscription import UidLists
from cloudrec.projections import status
from cloudrec.projections.runner import MemoryViewStore, ProjectionRunner
from cloudrec.service import RecordingService

from ..actors.session.fakes import FakeChildren, Inline, LocalController


class Controller(LocalController):
    """The real supervisor in this process, over fake child actors."""

    def __init__(self, log: MemoryEventLog, **fake: Any) -> None:
        self.children = FakeChildren(log, **fake)
        super().__init__(Supervisor(log, self.children, clock_ms=lambda: 1,
                                    background=Inline()))
        self.supervisor.recover()  # as the controller actor does when it (re)starts

    @property
    def configs(self) -> list[RecordingConfig]:
        return self.children.configs

    def pushed(self, what: str) -> list[Any]:
        return [args for name, args in self.children.calls if name == what]


def request(cname: str = "room", uid: str = "9", recording: dict[str, Any] | None = None,
            **transcoding: Any) -> StartRequest:
    config: dict[str, Any] = recording or {"streamTypes": 2, "subscribeVideoUids": ["1", "2"]}
    if transcoding:
        config["transcodingConfig"] = {"width": 640, "height": 360, "fps": 24, "bitrate": 800,
                                       **transcoding}
    return StartRequest.model_validate({"cname": cname, "uid": uid, "clientRequest": {
        "recordingConfig": config, "recordingFileConfig": {"avFileType": ["hls"]},
        "storageConfig": {"vendor": 1, "region": 0, "bucket": "b", "accessKey": "AK",
                          "secretKey": "SK", "fileNamePrefix": ["rec", "x1"]}}})


@pytest.fixture
def log() -> MemoryEventLog:
    return MemoryEventLog()


@pytest.fixture
def service(log: MemoryEventLog, tmp_path: Path) -> RecordingService:
    return RecordingService(log, Controller(log), tmp_path, clock_ms=lambda: 1)  # type: ignore[arg-type]


def start(service: RecordingService, resource: str = "r1", **kw: Any) -> str:
    return service.start("app", "room", "9", resource, "mix", request(**kw), None)  # type: ignore[arg-type]


def test_start_records_the_public_config_and_query_names_the_playlist(
        service: RecordingService, log: MemoryEventLog) -> None:
    sid = start(service, mixedVideoLayout=1, backgroundColor="#102030")
    answer = service.query("app", sid, "r1", "mix")
    assert answer["fileListMode"] == "string" and answer["fileList"] == f"rec/x1/{sid}_room.m3u8"
    started = log.read_stream(sid)[0]
    assert "AK" not in started.model_dump_json() and "SK" not in started.model_dump_json()
    config = service.controller.configs[0]  # type: ignore[attr-defined]
    assert (config.width, config.height, config.fps, config.bitrate_kbps) == (640, 360, 24, 800)
    assert config.layout.mixed_video_layout == 1 and config.layout.background_color == "#102030"
    assert config.video.wants(1) and not config.video.wants(3) and config.audio.wants(3) is False


def test_reused_resource_is_code_7_and_an_event(service: RecordingService,
                                                log: MemoryEventLog) -> None:
    sid = start(service)
    with pytest.raises(ApiError) as error:
        start(service)
    assert error.value.code == 7 and error.value.http_status == 201
    assert type(log.read_stream(sid)[-1]).__name__ == "StartRepeated"


def test_second_recorder_for_the_same_uid_is_code_53(service: RecordingService) -> None:
    start(service, "r1")
    with pytest.raises(ApiError) as error:
        start(service, "r2")
    assert error.value.code == 53


def test_a_start_past_the_app_quota_is_http_429_with_its_reason(
        service: RecordingService) -> None:
    service.controller.supervisor.quota = Quota(recordings_per_app=1)  # type: ignore[attr-defined]
    start(service, "r1")
    with pytest.raises(ApiError) as error:
        service.start("app", "room2", "9", "r2", "mix", request(cname="room2"), None)  # type: ignore[arg-type]
    assert (error.value.code, error.value.http_status) == (429, 429)
    assert "at most 1" in error.value.reason


def test_calls_on_a_foreign_or_unknown_session(service: RecordingService) -> None:
    sid = start(service)
    with pytest.raises(ApiError) as foreign:
        service.query("other", sid, "r1", "mix")
    assert foreign.value.code == 1003
    with pytest.raises(ApiError) as wrong_resource:
        service.query("app", sid, "r2", "mix")
    assert wrong_resource.value.code == 1003
    with pytest.raises(ApiError) as unknown:
        service.query("app", "f" * 32, "r1", "mix")
    assert unknown.value.code == 404


def test_stop_answers_from_the_log_then_the_session_is_gone(service: RecordingService) -> None:
    sid = start(service)
    layout = UpdateLayoutRequest.model_validate(
        {"cname": "room", "uid": "9", "clientRequest": {"mixedVideoLayout": 2,
                                                        "maxResolutionUid": "2"}})
    service.update_layout("app", sid, "r1", layout)
    assert service.controller.pushed("layout")[-1][1].max_resolution_uid == 2  # type: ignore[attr-defined]
    assert service.stop("app", sid, "r1", "mix")["uploadingStatus"] == "uploaded"
    with pytest.raises(ApiError) as gone:
        service.stop("app", sid, "r1", "mix")
    assert gone.value.code == 404


def test_a_recorder_that_cannot_start_is_200_then_dies(log: MemoryEventLog,
                                                       tmp_path: Path) -> None:
    service = RecordingService(log, Controller(log, join_fails=True), tmp_path,  # type: ignore[arg-type]
                               clock_ms=lambda: 1)
    sid = start(service)
    assert [type(e).__name__ for e in log.read_stream(sid)] == [
        "RecordingStarted", "RecordingPlanned", "RecordingFailed", "StopRequested",
        "RecordingStopped", "SessionExited"]
    with pytest.raises(ApiError) as gone:
        service.query("app", sid, "r1", "mix")
    assert gone.value.code == 404


def test_a_restarted_service_still_refuses_a_used_resource(log: MemoryEventLog,
                                                           tmp_path: Path) -> None:
    first = RecordingService(log, Controller(log), tmp_path)  # type: ignore[arg-type]
    start(first)
    again = RecordingService(log, Controller(log), tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ApiError) as error:
        start(again)
    assert error.value.code == 7


def test_query_waits_for_the_status_runner_which_commits_after_saving(
        log: MemoryEventLog, tmp_path: Path) -> None:
    trail: list[str] = []

    class Store(MemoryViewStore):
        def save(self, views: Any, position: int, partition: int = 0,
                 expected: int | None = None) -> None:
            trail.append(f"save {position}")
            super().save(views, position, partition, expected)

    runner = ProjectionRunner(log, status, Store(),
                              commit=lambda p, partition: trail.append(f"commit {p}"))
    service = RecordingService(log, Controller(log), tmp_path,  # type: ignore[arg-type]
                               clock_ms=lambda: 1, status_runner=runner)
    sid = start(service)
    answer = service.query("app", sid, "r1", "mix")  # right after start: the view has it
    assert answer["fileList"] == f"rec/x1/{sid}_room.m3u8"
    assert trail[-2:] == ["save 4", "commit 4"]  # started, planned, launched, a user heard
    service.query("app", sid, "r1", "mix")
    assert trail[-2:] == ["save 4", "commit 4"]  # nothing new: nothing saved or committed again


def update(service: RecordingService, sid: str, stream_subscribe: Any) -> None:
    body = UpdateRequest.model_validate({"cname": "room", "uid": "9", "clientRequest": {
        "streamSubscribe": stream_subscribe}})
    service.update("app", sid, "r1", "mix", body)


def test_update_replaces_the_part_it_carries_as_an_event_then_on_the_recorder(
        service: RecordingService, log: MemoryEventLog) -> None:
    sid = start(service)  # start: only a video allow-list [1, 2], so no audio
    controller: Controller = service.controller  # type: ignore[assignment]
    assert (controller.configs[0].audio.enabled, controller.configs[0].video.only) == (
        False, frozenset({1, 2}))
    update(service, sid, {"audioUidList": {"unsubscribeAudioUids": ["3"]}})
    _, audio, video = controller.pushed("subscription")[-1]
    assert audio == Subscription(only=None, never=frozenset({3}), enabled=True)
    assert video == Subscription(only=frozenset({1, 2}))  # the video part was not carried
    update(service, sid, {"videoUidList": {"subscribeVideoUids": ["#allstream#"]}})
    _, audio, video = controller.pushed("subscription")[-1]
    assert audio.never == frozenset({3}) and video == Subscription()
    updates = [e for e in log.read_stream(sid) if type(e).__name__ == "SubscriptionUpdated"]
    assert [(e.audio, e.video) for e in updates] == [  # type: ignore[attr-defined]
        (UidLists(unsubscribe=("3",)), None), (None, UidLists(subscribe=("#allstream#",)))]


@pytest.mark.parametrize("stream_subscribe,reason", [
    (None, "streamSubscribe"),  # nothing to change
    ({"audioUidList": {}}, "audioUidList needs"),  # a part without a list
])
def test_update_without_lists_is_code_2_and_changes_nothing(
        service: RecordingService, log: MemoryEventLog, stream_subscribe: Any,
        reason: str) -> None:
    sid = start(service)
    before = len(log.read_stream(sid))
    with pytest.raises(ApiError) as error:
        update(service, sid, stream_subscribe)
    assert error.value.code == 2 and reason in error.value.reason
    assert len(log.read_stream(sid)) == before


def test_update_lists_against_stream_types_are_code_2(service: RecordingService) -> None:
    audio_only = request(recording={"streamTypes": 0})
    sid = service.start("app", "room", "9", "r1", "mix", audio_only, None)  # type: ignore[arg-type]
    with pytest.raises(ApiError) as error:
        update(service, sid, {"videoUidList": {"subscribeVideoUids": ["1"]}})
    assert error.value.code == 2 and "streamTypes" in error.value.reason


def test_update_of_an_ended_session_is_404(service: RecordingService) -> None:
    sid = start(service)
    service.stop("app", sid, "r1", "mix")
    with pytest.raises(ApiError) as error:
        update(service, sid, {"audioUidList": {"subscribeAudioUids": ["1"]}})
    assert error.value.code == 404


def test_calls_in_another_mode_than_the_start_are_code_2(service: RecordingService) -> None:
    """Tried: query/stop of a mix recording under mode/individual; the recording goes on."""
    sid = start(service)
    for call in (lambda: service.query("app", sid, "r1", "individual"),
                 lambda: service.stop("app", sid, "r1", "individual")):
        with pytest.raises(ApiError) as error:
            call()
        assert error.value.code == 2 and "mix mode" in error.value.reason
    assert service.query("app", sid, "r1", "mix")["status"] >= 1


def test_stop_of_a_channel_where_nobody_published_is_435_and_still_ends(
        log: MemoryEventLog, tmp_path: Path) -> None:
    service = RecordingService(log, Controller(log, silent=True), tmp_path,  # type: ignore[arg-type]
                               clock_ms=lambda: 1)
    sid = start(service)
    with pytest.raises(ApiError) as error:
        service.stop("app", sid, "r1", "mix")
    assert (error.value.code, error.value.http_status) == (435, 206)
    with pytest.raises(ApiError) as again:
        service.query("app", sid, "r1", "mix")
    assert again.value.code == 404


def test_the_session_is_given_its_resource_expired_hour(service: RecordingService) -> None:
    grant = ResourceGrant("app", "room", "9", 0, "", 2, 0.0, "00")
    service.start("app", "room", "9", "r1", "mix", request(), grant)
    controller: Controller = service.controller  # type: ignore[assignment]
    assert controller.configs[0].expires_at_ms == 1 + 2 * 3_600_000  # clock 1 + 2 h
