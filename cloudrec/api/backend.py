"""The port the REST layer drives: the recording service behind it.

The real implementation (Ray actors over the event log) lives elsewhere; tests use an
in-memory fake. Methods are blocking: the REST layer calls them in a thread pool. They
report refusals by raising :class:`cloudrec.api.errors.ApiError`; the REST layer adds the
call's identifiers (cname, uid, resourceId, sid) to the error body.

By the time a method is called the REST layer has already checked the credentials, the
mode (``"mix"`` only for now), the body, and the resourceId: it decodes, belongs to
``appid`` (else 1003), names the body's cname/uid (else 432), and — for ``start`` — is
younger than 5 minutes (else 433). ``sid`` is 32 lowercase hex characters (else 404).
"""

from __future__ import annotations

from typing import Any, Protocol

from cloudrec.api.requests import StartRequest, UpdateLayoutRequest, UpdateRequest
from cloudrec.api.resource import ResourceGrant

ServerResponse = dict[str, Any]


class RecordingBackend(Protocol):
    def start(self, appid: str, cname: str, uid: str, resource_id: str, mode: str,
              request: StartRequest, grant: ResourceGrant) -> str:
        """Start recording; return the new sid (32 lowercase hex characters).

        Raise ApiError 7 (HTTP 201) when this resourceId was already used by a start, and 53
        when a recorder for the same (appid, cname, uid) is still running. ``grant`` carries
        ``resource_expired_hour``, ``scene`` and ``region`` from acquire.
        """
        ...

    def query(self, appid: str, sid: str, resource_id: str, mode: str) -> ServerResponse:
        """The ``serverResponse`` object of §8 (``status``, ``fileListMode``, ``fileList``,
        ``sliceStartTime``). Raise ApiError 404 when the session is unknown or over, 1003 when
        the sid belongs to another app or another resourceId, 501 while it is exiting."""
        ...

    def update(self, appid: str, sid: str, resource_id: str, mode: str,
               request: UpdateRequest) -> None:
        """Replace the subscription lists carried in ``request.client_request.stream_subscribe``.
        Raise ApiError 2 when a list contradicts the session's ``streamTypes``; 404 / 1003 as
        for query."""
        ...

    def update_layout(self, appid: str, sid: str, resource_id: str,
                      request: UpdateLayoutRequest) -> None:
        """Replace the whole layout (omitted fields revert to defaults). 404 / 1003 as query."""
        ...

    def stop(self, appid: str, sid: str, resource_id: str, mode: str) -> ServerResponse:
        """Stop and return the §9 ``serverResponse`` (``fileListMode``, ``fileList``,
        ``uploadingStatus``). Raise ApiError 49 on a repeated stop, 435 (HTTP 206) when nothing
        was recorded, 404 / 1003 as for query."""
        ...


class Operations(Protocol):
    """What the service says about itself, unauthenticated: health and metrics."""

    def health(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, a small JSON answer); never raises."""
        ...

    def metrics(self) -> str:
        """Prometheus text format."""
        ...
