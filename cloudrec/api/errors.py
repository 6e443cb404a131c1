"""Error bodies of the REST API and the handlers that render them.

Two shapes exist (spec decision 1):

* service errors, ``{"cname", "uid", "resourceId", "sid", "code", "reason"}`` with the
  identifier fields present when known — raised as :class:`ApiError`;
* gateway errors (credentials, unknown route, unknown app, rate limit), ``{"message": ...}`` —
  raised as :class:`GatewayError`.

Bad input never produces a 500: framework validation errors become code 2, wrong methods code 8
(HTTP 400), unknown routes the gateway 404, and anything unforeseen a last-resort 500 with code 15
(the code the original service answers on internal failures of ``start``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

logger = logging.getLogger(__name__)

HTTP_STATUS_BY_CODE = {
    2: 400, 7: 201, 8: 400, 15: 500, 49: 400, 53: 400, 62: 400, 65: 500, 404: 404,
    429: 429, 432: 400, 433: 400, 435: 206, 501: 500, 1001: 400, 1003: 400, 1013: 400, 1028: 400,
}
NO_ROUTE = "no Route matched with those values"
BAD_CREDENTIALS = "Invalid authentication credentials"
INVALID_APPID = "invalid appid"
RATE_LIMITED = "API rate limit exceeded"
TOO_LARGE = "Request size limit exceeded"
ENDPOINTS = ("acquire", "start", "update", "updateLayout", "query", "stop")


@dataclass(eq=False)
class ApiError(Exception):
    """A service error: numeric ``code``, ``reason`` and the identifiers of the call."""

    code: int
    reason: str
    status: int | None = None
    cname: str | None = None
    uid: str | None = None
    resource_id: str | None = None
    sid: str | None = None

    @property
    def http_status(self) -> int:
        return self.status or HTTP_STATUS_BY_CODE.get(self.code, 400)

    def with_ids(self, *, cname: str | None = None, uid: str | None = None,
                 resource_id: str | None = None, sid: str | None = None) -> ApiError:
        """Fill the identifier fields this error does not carry yet."""
        return replace(self, cname=self.cname if self.cname is not None else cname,
                       uid=self.uid if self.uid is not None else uid,
                       resource_id=self.resource_id if self.resource_id is not None
                       else resource_id,
                       sid=self.sid if self.sid is not None else sid)

    def body(self) -> dict[str, object]:
        ids = {"cname": self.cname, "uid": self.uid, "resourceId": self.resource_id,
               "sid": self.sid}
        body: dict[str, object] = {k: v for k, v in ids.items() if v is not None}
        return body | {"code": self.code, "reason": self.reason}

    def __str__(self) -> str:
        return f"code {self.code}: {self.reason}"


@dataclass(eq=False)
class GatewayError(Exception):
    """A gateway-level error answered as ``{"message": ...}``."""

    status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()


def error_response(error: ApiError | GatewayError) -> JSONResponse:
    if isinstance(error, GatewayError):
        return JSONResponse({"message": error.message}, error.status, dict(error.headers))
    return JSONResponse(error.body(), error.http_status)


def not_found(path: str) -> ApiError | GatewayError:
    """A path under ``/v1/apps/`` naming an endpoint but lacking ``cloud_recording`` is code 8."""
    parts = path.strip("/").split("/")
    if parts[:2] == ["v1", "apps"] and "cloud_recording" not in parts and parts[-1] in ENDPOINTS:
        return ApiError(8, "missing cloud_recording in the request URL")
    return GatewayError(404, NO_ROUTE)


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError | GatewayError)
    return error_response(exc)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return error_response(ApiError(8, "HTTP method not allowed on this path"))
    if exc.status_code == 404:
        return error_response(not_found(request.url.path))
    return error_response(GatewayError(exc.status_code, str(exc.detail)))


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    return error_response(ApiError(2, "invalid parameter"))


async def _on_json_error(request: Request, exc: Exception) -> JSONResponse:
    return error_response(ApiError(8, "request body is not valid JSON"))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(ApiError(15, "internal error"))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(GatewayError, _on_api_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(json.JSONDecodeError, _on_json_error)
    app.add_exception_handler(Exception, _on_unexpected)
