"""The REST application: the §3 paths under ``/v1/apps/{appid}/cloud_recording/``.

Each endpoint checks, in order: gateway (credentials, App ID, rate limit) → mode → then

* ``acquire``/``start``: body → resourceId (1001, 432, 433 for start) → backend;
* calls on a session: resourceId (1001, 1003) → sid format (404) → body (8, 2 or 1028, then
  432 when it names another channel or uid) → backend.

Every service error leaving an endpoint carries the identifiers known at that point
(cname, uid, resourceId, sid).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from cloudrec.api.auth import Gateway
from cloudrec.api.backend import Operations, RecordingBackend
from cloudrec.api.body import parse_body, read_body
from cloudrec.api.errors import ApiError, install_error_handlers
from cloudrec.api.mode import (
    check_acquire,
    check_mode,
    check_start,
    check_stop,
    check_update,
    check_update_layout,
    start_parameter_error,
)
from cloudrec.api.openapi import PREFIX, SESSION, openapi_document
from cloudrec.api.requests import (
    AcquireRequest,
    ChannelRequest,
    StartRequest,
    StopRequest,
    UpdateLayoutRequest,
    UpdateRequest,
)
from cloudrec.api.resource import ResourceCodec, ResourceGrant
from cloudrec.api.settings import ApiSettings

_SID = re.compile(r"[0-9a-f]{32}")
INVALID_PARAMETER = 2
INVALID_LAYOUT = 1028


@contextmanager
def echoing(ids: dict[str, str | None]) -> Iterator[None]:
    """Add the identifiers known so far (``ids`` may grow inside the block) to ApiErrors."""
    try:
        yield
    except ApiError as error:
        raise error.with_ids(**ids) from None


def check_sid(sid: str) -> None:
    if _SID.fullmatch(sid) is None:
        raise ApiError(404, "failed to find worker")


class Endpoints:
    """The six calls, each a short script over the settings, the codec and the backend."""

    def __init__(self, backend: RecordingBackend, settings: ApiSettings) -> None:
        self.backend = backend
        self.settings = settings
        self.codec = ResourceCodec(settings.resource_key)

    async def body(self, request: Request, model: type[Any], mode: str | None,
                   invalid_code: int = INVALID_PARAMETER) -> Any:
        raw = await read_body(request, self.settings.max_body_bytes)
        return parse_body(raw, model, mode, invalid_code)

    def session_grant(self, appid: str, resource_id: str, sid: str,
                      ids: dict[str, str | None]) -> tuple[ResourceGrant, str]:
        """Decode the resourceId of a running session and check it against the call: the
        grant and the spelling the session is keyed by."""
        grant, key = self.codec.read(resource_id)
        grant.check_app(appid)
        ids.update(cname=grant.cname, uid=grant.uid)
        check_sid(sid)
        return grant, key

    async def session_body(self, request: Request, model: type[Any], mode: str,
                           grant: ResourceGrant, invalid_code: int = INVALID_PARAMETER) -> Any:
        """The body of a call on a session; it must name the grant's channel and uid."""
        body: ChannelRequest = await self.body(request, model, mode, invalid_code)
        grant.check_channel(grant.appid, body.cname, body.uid)
        return body

    async def acquire(self, appid: str, request: Request) -> dict[str, Any]:
        body: AcquireRequest = await self.body(request, AcquireRequest, None)
        check_acquire(body, self.settings.regions)
        options = body.client_request
        resource_id, _ = self.codec.issue(
            appid, body.cname, body.uid, scene=options.scene, region=options.region,
            resource_expired_hour=options.resource_expired_hour, now=self.settings.clock(),
            start_parameter_error=start_parameter_error(options.start_parameter),
        )
        return {"resourceId": resource_id, "cname": body.cname, "uid": body.uid}

    async def start(self, appid: str, resource_id: str, mode: str,
                    request: Request) -> dict[str, Any]:
        ids: dict[str, str | None] = {"resource_id": resource_id}
        with echoing(ids):
            check_mode(mode)
            body: StartRequest = await self.body(request, StartRequest, mode)
            ids.update(cname=body.cname, uid=body.uid)
            grant, key = self.codec.read(resource_id)  # one session per grant, however spelt
            grant.check_channel(appid, body.cname, body.uid)
            grant.check_fresh(self.settings.clock())
            check_start(mode, grant, body)
            sid = await run_in_threadpool(self.backend.start, appid, body.cname, body.uid, key,
                                          mode, body, grant)
        return {"resourceId": resource_id, "sid": sid, "cname": body.cname, "uid": body.uid}

    async def query(self, appid: str, resource_id: str, sid: str, mode: str) -> dict[str, Any]:
        ids: dict[str, str | None] = {"resource_id": resource_id, "sid": sid}
        with echoing(ids):
            check_mode(mode)
            _, key = self.session_grant(appid, resource_id, sid, ids)
            response = await run_in_threadpool(self.backend.query, appid, sid, key, mode)
        return {"resourceId": resource_id, "sid": sid, "serverResponse": response}

    async def update(self, appid: str, resource_id: str, sid: str, mode: str,
                     request: Request) -> dict[str, Any]:
        ids: dict[str, str | None] = {"resource_id": resource_id, "sid": sid}
        with echoing(ids):
            check_mode(mode)
            grant, key = self.session_grant(appid, resource_id, sid, ids)
            body: UpdateRequest = await self.session_body(request, UpdateRequest, mode, grant)
            check_update(mode, body)
            await run_in_threadpool(self.backend.update, appid, sid, key, mode, body)
        return {"resourceId": resource_id, "sid": sid}

    async def update_layout(self, appid: str, resource_id: str, sid: str, mode: str,
                            request: Request) -> dict[str, Any]:
        ids: dict[str, str | None] = {"resource_id": resource_id, "sid": sid}
        with echoing(ids):
            check_mode(mode)
            grant, key = self.session_grant(appid, resource_id, sid, ids)
            check_update_layout(mode)
            body: UpdateLayoutRequest = await self.session_body(
                request, UpdateLayoutRequest, mode, grant, INVALID_LAYOUT
            )
            await run_in_threadpool(self.backend.update_layout, appid, sid, key, body)
        return {"resourceId": resource_id, "sid": sid}

    async def stop(self, appid: str, resource_id: str, sid: str, mode: str,
                   request: Request) -> dict[str, Any]:
        ids: dict[str, str | None] = {"resource_id": resource_id, "sid": sid}
        with echoing(ids):
            check_mode(mode)
            grant, key = self.session_grant(appid, resource_id, sid, ids)
            check_stop(await self.session_body(request, StopRequest, mode, grant))
            response = await run_in_threadpool(self.backend.stop, appid, sid, key, mode)
        return {"resourceId": resource_id, "sid": sid, "serverResponse": response}


def _router(endpoints: Endpoints, gateway: Gateway) -> APIRouter:
    router = APIRouter(prefix=PREFIX, dependencies=[Depends(gateway)])
    router.add_api_route("/acquire", endpoints.acquire, methods=["POST"])
    router.add_api_route("/resourceid/{resource_id}/mode/{mode}/start", endpoints.start,
                         methods=["POST"])
    router.add_api_route(SESSION + "/update", endpoints.update, methods=["POST"])
    router.add_api_route(SESSION + "/updateLayout", endpoints.update_layout, methods=["POST"])
    router.add_api_route(SESSION + "/query", endpoints.query, methods=["GET"])
    router.add_api_route(SESSION + "/stop", endpoints.stop, methods=["POST"])
    return router


def _operations(operations: Operations) -> APIRouter:
    """`/healthz` and `/metrics`: no credentials (probes and scrapers have none), nothing in
    them names a tenant or a session."""
    router = APIRouter()

    async def healthz() -> JSONResponse:
        healthy, answer = await run_in_threadpool(operations.health)
        return JSONResponse(answer, status_code=200 if healthy else 503)

    async def prometheus() -> PlainTextResponse:
        text = await run_in_threadpool(operations.metrics)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    router.add_api_route("/healthz", healthz, methods=["GET"])
    router.add_api_route("/metrics", prometheus, methods=["GET"])
    return router


def create_app(backend: RecordingBackend, settings: ApiSettings,
               operations: Operations | None = None) -> FastAPI:
    """The ASGI application serving the recording API over ``backend`` (and, given
    ``operations``, its health and metrics)."""
    app = FastAPI(title="cloudrec", docs_url=None, redoc_url=None, openapi_url="/openapi.json",
                  redirect_slashes=False)
    gateway = Gateway(settings.customers, settings.rate_limit_per_second, settings.clock)
    app.include_router(_router(Endpoints(backend, settings), gateway))
    if operations is not None:
        app.include_router(_operations(operations))
    install_error_handlers(app)
    document = openapi_document()  # from the models: the routes read raw bodies
    app.openapi = lambda: document  # type: ignore[method-assign]  # FastAPI's documented hook
    return app
