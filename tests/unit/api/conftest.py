"""Fixtures for the REST layer: an in-memory backend, two customers, a settable clock."""

from __future__ import annotations

import base64
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloudrec.api.app import create_app
from cloudrec.api.auth import Customer
from cloudrec.api.errors import ApiError
from cloudrec.api.requests import StartRequest, UpdateLayoutRequest, UpdateRequest
from cloudrec.api.resource import ResourceGrant
from cloudrec.api.settings import ApiSettings

APP_A, APP_B = "a" * 32, "b" * 32
ALICE = Customer("alice", "alice-secret", {APP_A})
BOB = Customer("bob", "bob-secret", {APP_B})
RESOURCE_KEY = b"0123456789abcdef0123456789abcdef"


@dataclass
class Session:
    appid: str
    cname: str
    uid: str
    resource_id: str
    request: StartRequest
    layouts: list[UpdateLayoutRequest] = field(default_factory=list)
    updates: list[UpdateRequest] = field(default_factory=list)
    stopped: bool = False


class FakeBackend:
    """Implements RecordingBackend in memory, with the session rules of spec §2.2."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.used_resources: set[str] = set()
        self.threads: set[str] = set()

    def start(self, appid: str, cname: str, uid: str, resource_id: str, mode: str,
              request: StartRequest, grant: ResourceGrant) -> str:
        self.threads.add(threading.current_thread().name)
        if resource_id in self.used_resources:
            raise ApiError(7, "recording is already running for this resourceId")
        if any((s.appid, s.cname, s.uid) == (appid, cname, uid) and not s.stopped
               for s in self.sessions.values()):
            raise ApiError(53, "a recorder with this appid/cname/uid is running")
        self.used_resources.add(resource_id)
        sid = secrets.token_hex(16)
        self.sessions[sid] = Session(appid, cname, uid, resource_id, request)
        return sid

    def _session(self, appid: str, sid: str, resource_id: str) -> Session:
        session = self.sessions.get(sid)
        if session is None or session.stopped:
            raise ApiError(404, "failed to find worker")
        if session.appid != appid or session.resource_id != resource_id:
            raise ApiError(1003, "sid does not match the resourceId")
        return session

    def query(self, appid: str, sid: str, resource_id: str, mode: str) -> dict[str, Any]:
        session = self._session(appid, sid, resource_id)
        return {"status": 5, "fileListMode": "string",
                "fileList": f"{sid}_{session.cname}.m3u8", "sliceStartTime": 1619172632080}

    def update(self, appid: str, sid: str, resource_id: str, mode: str,
               request: UpdateRequest) -> None:
        self._session(appid, sid, resource_id).updates.append(request)

    def update_layout(self, appid: str, sid: str, resource_id: str,
                      request: UpdateLayoutRequest) -> None:
        self._session(appid, sid, resource_id).layouts.append(request)

    def stop(self, appid: str, sid: str, resource_id: str, mode: str) -> dict[str, Any]:
        session = self.sessions.get(sid)
        if session is not None and session.stopped and session.appid == appid:
            raise ApiError(49, "stop was already called")
        session = self._session(appid, sid, resource_id)
        session.stopped = True
        return {"fileListMode": "string", "fileList": f"{sid}_{session.cname}.m3u8",
                "uploadingStatus": "uploaded"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def basic(customer: Customer) -> dict[str, str]:
    token = base64.b64encode(f"{customer.customer_id}:{customer.secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(clock: Clock) -> ApiSettings:
    return ApiSettings(customers=(ALICE, BOB), resource_key=RESOURCE_KEY,
                       rate_limit_per_second=1000.0, clock=clock)


@pytest.fixture
def client(backend: FakeBackend, settings: ApiSettings) -> TestClient:
    return TestClient(create_app(backend, settings), headers=basic(ALICE))


def start_body(cname: str = "room42", uid: str = "900001", **client_request: Any) -> dict[str, Any]:
    """A valid mix start body (the §5.7 example); keyword arguments replace clientRequest parts."""
    body: dict[str, Any] = {
        "token": "rtc-token",
        "recordingConfig": {
            "channelType": 1, "streamTypes": 2, "audioProfile": 1, "maxIdleTime": 120,
            "transcodingConfig": {
                "width": 1280, "height": 720, "fps": 15, "bitrate": 1130,
                "mixedVideoLayout": 3, "backgroundColor": "#202020",
                "layoutConfig": [
                    {"uid": "1001", "x_axis": 0.0, "y_axis": 0.0, "width": 0.75, "height": 1.0},
                    {"x_axis": 0.75, "y_axis": 0.0, "width": 0.25, "height": 0.5,
                     "render_mode": 1},
                    {"x_axis": 0.75, "y_axis": 0.5, "width": 0.25, "height": 0.5, "alpha": 0.9},
                ],
            },
            "subscribeAudioUids": ["#allstream#"],
            "subscribeVideoUids": ["1001", "1002", "1003"],
        },
        "recordingFileConfig": {"avFileType": ["hls", "mp4"]},
        "storageConfig": {"vendor": 1, "region": 0, "bucket": "my-bucket", "accessKey": "AK",
                          "secretKey": "SK", "fileNamePrefix": ["rec", "room42"]},
    }
    return {"cname": cname, "uid": uid, "clientRequest": body | client_request}


def prefix(appid: str = APP_A) -> str:
    return f"/v1/apps/{appid}/cloud_recording"


def session_path(resource_id: str, sid: str, call: str, appid: str = APP_A) -> str:
    return f"{prefix(appid)}/resourceid/{resource_id}/sid/{sid}/mode/mix/{call}"


class Api:
    """Short-hands over the test client for the common calls."""

    app_a, app_b, alice, bob = APP_A, APP_B, ALICE, BOB
    start_body = staticmethod(start_body)
    prefix = staticmethod(prefix)
    session_path = staticmethod(session_path)
    basic = staticmethod(basic)

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def acquire(self, cname: str = "room42", uid: str = "900001", appid: str = APP_A,
                **client_request: Any) -> Any:
        body = {"cname": cname, "uid": uid, "clientRequest": client_request}
        return self.client.post(f"{prefix(appid)}/acquire", json=body)

    def start(self, resource_id: str, body: dict[str, Any] | None = None,
              appid: str = APP_A, mode: str = "mix") -> Any:
        url = f"{prefix(appid)}/resourceid/{resource_id}/mode/{mode}/start"
        return self.client.post(url, json=body or start_body())

    def running(self, cname: str = "room42", uid: str = "900001") -> tuple[str, str]:
        resource_id = self.acquire(cname, uid).json()["resourceId"]
        response = self.start(resource_id, start_body(cname, uid))
        assert response.status_code == 200, response.text
        return resource_id, response.json()["sid"]


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)
