"""A small client of the recording API (the same calls any Agora Cloud Recording client makes)."""

from __future__ import annotations

from typing import Any

import httpx


class ApiCallFailed(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status, self.body = status, body


class RecordingClient:
    def __init__(self, base_url: str, customer_id: str, secret: str, appid: str,
                 timeout_s: float = 120) -> None:
        self.appid = appid
        self.http = httpx.Client(base_url=f"{base_url}/v1/apps/{appid}/cloud_recording",
                                 auth=(customer_id, secret), timeout=timeout_s)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, path, json=body)
        payload = response.json()
        if response.status_code != 200:
            raise ApiCallFailed(response.status_code, payload)
        return payload

    def acquire(self, cname: str, uid: str, **client_request: Any) -> str:
        body = {"cname": cname, "uid": uid, "clientRequest": client_request}
        resource_id: str = self._call("POST", "/acquire", body)["resourceId"]
        return resource_id

    def start(self, resource_id: str, cname: str, uid: str, client_request: dict[str, Any],
              mode: str = "mix") -> str:
        body = {"cname": cname, "uid": uid, "clientRequest": client_request}
        sid: str = self._call("POST", f"/resourceid/{resource_id}/mode/{mode}/start", body)["sid"]
        return sid

    def _session(self, resource_id: str, sid: str, mode: str) -> str:
        return f"/resourceid/{resource_id}/sid/{sid}/mode/{mode}"

    def query(self, resource_id: str, sid: str, mode: str = "mix") -> dict[str, Any]:
        answer: dict[str, Any] = self._call("GET", self._session(resource_id, sid, mode) + "/query")
        return answer

    def update_layout(self, resource_id: str, sid: str, cname: str, uid: str,
                      layout: dict[str, Any], mode: str = "mix") -> dict[str, Any]:
        body = {"cname": cname, "uid": uid, "clientRequest": layout}
        answer: dict[str, Any] = self._call(
            "POST", self._session(resource_id, sid, mode) + "/updateLayout", body)
        return answer

    def update(self, resource_id: str, sid: str, cname: str, uid: str,
               stream_subscribe: dict[str, Any], mode: str = "mix") -> dict[str, Any]:
        """`update` with `streamSubscribe` (audioUidList / videoUidList)."""
        body = {"cname": cname, "uid": uid,
                "clientRequest": {"streamSubscribe": stream_subscribe}}
        answer: dict[str, Any] = self._call(
            "POST", self._session(resource_id, sid, mode) + "/update", body)
        return answer

    def stop(self, resource_id: str, sid: str, cname: str, uid: str,
             mode: str = "mix") -> dict[str, Any]:
        body = {"cname": cname, "uid": uid, "clientRequest": {}}
        answer: dict[str, Any] = self._call("POST", self._session(resource_id, sid, mode) + "/stop",
                                            body)
        return answer

    def close(self) -> None:
        self.http.close()
