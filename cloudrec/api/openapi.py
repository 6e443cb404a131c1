"""The OpenAPI 3.1 document of the REST API, served at ``/openapi.json``.

The endpoints read their bodies themselves (to answer code 8 for non-JSON bodies and 1013 for
channel names), so FastAPI cannot infer the document; it is written here from the same request
models, the §3 paths, the Basic scheme of §1.2 and the answers of decision 1 and §10:

* 200 with the endpoint's response body;
* service errors ``{"code", "reason", ...}``: 400 (codes 2, 8, 49, 53, 432, 433, 1001, 1003,
  1013, 1028), 404 (code 404), 201 on start (code 7), 206 on stop (code 435), 500 (codes 15,
  65, 501: internal failures, never bad input);
* gateway errors ``{"message"}``: 400 ``invalid appid``, 401, 404 (no route), 413, 429;
* 429 with code 429 on start: a quota of the app id is reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from cloudrec.api.requests import (
    AcquireRequest,
    StartRequest,
    StopRequest,
    UpdateLayoutRequest,
    UpdateRequest,
)

PREFIX = "/v1/apps/{appid}/cloud_recording"
SESSION = "/resourceid/{resource_id}/sid/{sid}/mode/{mode}"
Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _string(**extra: Any) -> Schema:
    return {"type": "string"} | extra


def _object(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    return {"type": "object", "properties": required | (optional or {}),
            "required": list(required)}


CLOSED = {"additionalProperties": False}
SID = _string(pattern="^[0-9a-f]{32}$")
FILE_ENTRY = _object({"fileName": _string(), "trackType": _string(
    enum=["audio", "video", "audio_and_video"]), "uid": _string(), "mixedAllUser": {
    "type": "boolean"}, "isPlayable": {"type": "boolean"}, "sliceStartTime": {"type": "integer"}})
FILE_LIST = {"anyOf": [_string(), {"type": "array", "items": ref("FileEntry")}]}
RESPONSES: dict[str, Schema] = {
    "ServiceError": _object({"code": {"type": "integer"}, "reason": _string()}, {
        "cname": _string(), "uid": _string(), "resourceId": _string(), "sid": _string()})
    | CLOSED,
    "GatewayError": _object({"message": _string()}) | CLOSED,
    "FileEntry": FILE_ENTRY,
    "AcquireResponse": _object({"resourceId": _string(), "cname": _string(), "uid": _string()}),
    "StartResponse": _object({"resourceId": _string(), "sid": SID, "cname": _string(),
                              "uid": _string()}),
    "SessionResponse": _object({"resourceId": _string(), "sid": SID}),
    "QueryResponse": _object({"resourceId": _string(), "sid": SID, "serverResponse": _object(
        {"status": {"type": "integer", "enum": [0, 1, 2, 3, 4, 5, 6, 7, 8, 20]}}, {
            "fileListMode": _string(enum=["string", "json"]), "fileList": FILE_LIST,
            "sliceStartTime": {"type": "integer"}})}),
    "StopResponse": _object({"resourceId": _string(), "sid": SID, "serverResponse": _object(
        {"uploadingStatus": _string(enum=["uploaded", "backuped", "unknown"])}, {
            "fileListMode": _string(enum=["string", "json"]), "fileList": FILE_LIST})}),
}


@dataclass(frozen=True)
class Endpoint:
    """One Agora call: its path after the prefix, request model, 200 body, extra statuses."""

    name: str
    method: str
    path: str
    body: type[BaseModel] | None
    success: str
    statuses: tuple[int, ...] = ()


ENDPOINTS = (
    Endpoint("acquire", "post", "/acquire", AcquireRequest, "AcquireResponse"),
    Endpoint("start", "post", "/resourceid/{resource_id}/mode/{mode}/start", StartRequest,
             "StartResponse", (201,)),
    Endpoint("query", "get", SESSION + "/query", None, "QueryResponse"),
    Endpoint("update", "post", SESSION + "/update", UpdateRequest, "SessionResponse"),
    Endpoint("updateLayout", "post", SESSION + "/updateLayout", UpdateLayoutRequest,
             "SessionResponse"),
    Endpoint("stop", "post", SESSION + "/stop", StopRequest, "StopResponse", (206,)),
)
EITHER_ERROR = {"anyOf": [ref("ServiceError"), ref("GatewayError")]}
ERRORS: dict[int, tuple[str, Schema]] = {
    201: ("code 7: start was already called with this resourceId", ref("ServiceError")),
    206: ("code 435: nothing was recorded", ref("ServiceError")),
    400: ("a service error (codes 2, 8, 49, 53, 432, 433, 1001, 1003, 1013, 1028) or the "
          "gateway's `invalid appid`", EITHER_ERROR),
    401: ("gateway: Invalid authentication credentials", ref("GatewayError")),
    404: ("code 404 (no such session) or the gateway's `no Route matched`", EITHER_ERROR),
    413: ("gateway: Request size limit exceeded", ref("GatewayError")),
    429: ("gateway: API rate limit exceeded (with Retry-After), or on start code 429: a quota "
          "of the app id (recordings or channels at once) is reached", EITHER_ERROR),
    500: ("an internal failure (codes 15, 65, 501), never bad input", ref("ServiceError")),
}
HEADERS = {401: "WWW-Authenticate", 429: "Retry-After"}
PATH_PARAMETERS = {
    "appid": _string(minLength=1),
    "resource_id": _string(minLength=1),
    "sid": SID,
    "mode": _string(enum=["individual", "mix", "web"]),
}


def _json(schema: Schema) -> Schema:
    return {"application/json": {"schema": schema}}


def _error(status: int) -> Schema:
    description, schema = ERRORS[status]
    answer: Schema = {"description": description, "content": _json(schema)}
    if status in HEADERS:
        answer["headers"] = {HEADERS[status]: {"schema": _string(), "required": status != 429}}
    return answer


def _operation(endpoint: Endpoint) -> Schema:
    statuses = sorted({*endpoint.statuses, 400, 401, 404, 429, 500} |
                      ({413} if endpoint.body else set()))
    parameters = [{"name": name, "in": "path", "required": True, "schema": PATH_PARAMETERS[name]}
                  for name in PATH_PARAMETERS if "{" + name + "}" in PREFIX + endpoint.path]
    operation: Schema = {
        "operationId": endpoint.name,
        "parameters": parameters,
        "responses": {"200": {"description": "OK", "content": _json(ref(endpoint.success))}}
        | {str(status): _error(status) for status in statuses},
    }
    if endpoint.body is not None:
        operation["requestBody"] = {"required": True,
                                    "content": _json(ref(endpoint.body.__name__))}
    return operation


def _request_schemas() -> dict[str, Schema]:
    models: list[tuple[type[BaseModel], Literal["validation"]]] = [
        (e.body, "validation") for e in ENDPOINTS if e.body is not None]
    _, document = models_json_schema(models, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Schema] = document["$defs"]
    return schemas


def openapi_document() -> Schema:
    """The whole document: every endpoint, the request and response schemas, Basic auth."""
    paths: dict[str, Schema] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(PREFIX + endpoint.path, {})[endpoint.method] = _operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {"title": "cloudrec", "version": "1",
                 "description": "Agora Cloud Recording compatible REST API"},
        "paths": paths,
        "components": {
            "schemas": _request_schemas() | RESPONSES,
            "securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic"}},
        },
        "security": [{"basicAuth": []}],
    }
