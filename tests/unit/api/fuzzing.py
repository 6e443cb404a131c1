"""What every fuzzed answer must satisfy, and a binder that points fuzzed calls at live sessions.

The shapes are those of spec decision 1: a service error is ``{"code", "reason"}`` plus the
known identifiers, with the HTTP status its code maps to (§10); a gateway error is exactly
``{"message"}``. No answer is a 5xx.
"""

from __future__ import annotations

import random
from typing import Any

from cloudrec.api.errors import HTTP_STATUS_BY_CODE

IDENTIFIERS = {"cname", "uid", "resourceId", "sid"}
GATEWAY_MESSAGES = {
    400: {"invalid appid"},
    401: {"Invalid authentication credentials"},
    404: {"no Route matched with those values"},
    413: {"Request size limit exceeded"},
    429: {"API rate limit exceeded"},
}


def check_answer(status: int, body: Any) -> None:
    """A 200 without ``code``, a service error mapped to its status, or a gateway message."""
    assert status < 500, (status, body)
    assert isinstance(body, dict), (status, body)
    if status == 200:
        assert "code" not in body and "message" not in body, body
    elif "message" in body:
        assert set(body) == {"message"}, body
        assert body["message"] in GATEWAY_MESSAGES.get(status, set()), (status, body)
    else:
        check_service_error(status, body)


def check_service_error(status: int, body: dict[str, Any]) -> None:
    assert isinstance(body.get("code"), int) and isinstance(body.get("reason"), str), body
    assert set(body) <= IDENTIFIERS | {"code", "reason"}, body
    assert all(isinstance(body[k], str) for k in IDENTIFIERS & set(body)), body
    assert HTTP_STATUS_BY_CODE.get(body["code"]) == status, (status, body)


def check_unauthenticated(status: int, body: Any) -> None:
    """Without valid credentials nothing passes the gateway: 401, or 404/code 8 (no route)."""
    if status == 400:  # a wrong method (code 8) is found before the route's gateway runs
        assert body.get("code") == 8, body
    else:
        assert status in (401, 404) and set(body) == {"message"}, (status, body)
    check_answer(status, body)


class Binder:
    """Points most fuzzed calls at the caller's app and a resource or session that exists.

    Random path parameters alone stop every call at the gateway (unknown app) or the resourceId
    check (1001); binding ~4 in 5 cases lets the fuzzed body reach the backend. With
    ``channel`` set, bodies are rewritten to name that (cname, uid), so a real backend records
    one channel at a time instead of one per fuzzed name.
    """

    def __init__(self, client: Any, appid: str, channel: tuple[str, str] | None = None) -> None:
        self.client, self.appid, self.channel = client, appid, channel
        self.prefix = f"/v1/apps/{appid}/cloud_recording"
        self.live: dict[tuple[str, str], tuple[str, str]] = {}
        self.started: list[str] = []  # every sid this binder started

    def bind(self, path_parameters: dict[str, Any], body: Any, seed: str) -> None:
        rng = random.Random(seed)
        if rng.random() < 0.2:
            return
        path_parameters["appid"] = self.appid
        if self.channel is not None and isinstance(body, dict):
            body.update(cname=self.channel[0], uid=self.channel[1])
        cname, uid = channel_of(body)
        if "sid" in path_parameters:
            session = self.session(cname, uid)
            if session is not None:
                path_parameters.update(resource_id=session[0], sid=session[1])
        elif "resource_id" in path_parameters:
            resource_id = self.acquire(cname, uid)
            if resource_id is not None:
                path_parameters["resource_id"] = resource_id

    def acquire(self, cname: str, uid: str) -> str | None:
        body = {"cname": cname, "uid": uid, "clientRequest": {}}
        response = self.client.post(f"{self.prefix}/acquire", json=body)
        return response.json()["resourceId"] if response.status_code == 200 else None

    def session(self, cname: str, uid: str) -> tuple[str, str] | None:
        """A running mix session for (cname, uid), started now if there is none."""
        known = self.live.get((cname, uid))
        if known is not None and self.client.get(self.path(*known, "query")).status_code == 200:
            return known
        resource_id = self.acquire(cname, uid)
        if resource_id is None:
            return None
        url = f"{self.prefix}/resourceid/{resource_id}/mode/mix/start"
        response = self.client.post(url, json=minimal_start(cname, uid))
        if response.status_code != 200:
            return None
        self.started.append(response.json()["sid"])
        self.live[(cname, uid)] = (resource_id, response.json()["sid"])
        return self.live[(cname, uid)]

    def path(self, resource_id: str, sid: str, call: str) -> str:
        return f"{self.prefix}/resourceid/{resource_id}/sid/{sid}/mode/mix/{call}"

    def stop_all(self) -> None:
        for (cname, uid), (resource_id, sid) in self.live.items():
            body = {"cname": cname, "uid": uid, "clientRequest": {}}
            self.client.post(self.path(resource_id, sid, "stop"), json=body)


def channel_of(body: Any) -> tuple[str, str]:
    """The body's cname and uid when it names valid-looking ones, else a default channel."""
    if isinstance(body, dict) and isinstance(body.get("cname"), str) and \
            isinstance(body.get("uid"), str):
        return body["cname"], body["uid"]
    return "room42", "900001"


def minimal_start(cname: str, uid: str) -> dict[str, Any]:
    return {"cname": cname, "uid": uid, "clientRequest": {"recordingConfig": {}}}
