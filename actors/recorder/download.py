"""Fetching one layout image over http(s) (spec §5.1: http or https, JPG or BMP, at most 6 MB).

`download(url, policy)` returns the body of a 200 answer, or raises `ImageFetchFailed` with a
reason. The whole fetch has one deadline; the body is read in chunks and given up as soon as it
passes the size cap (a `Content-Length` over it is refused before reading). Redirects are
followed by hand, at most `MAX_REDIRECTS`, only to http or https, and every target's host passes
the `HostPolicy` again. Each connection goes to the address the policy checked; https still
verifies the certificate against the host name.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from cloudrec.actors.recorder.hosts import HostPolicy, RefusedHost

MAX_BYTES = 6 * 1024 * 1024
TIMEOUT_S = 10.0
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK = 64 * 1024


class ImageFetchFailed(Exception):
    """The image could not be fetched; the message is the reason reported in the warning."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = MAX_BYTES
    timeout_s: float = TIMEOUT_S


class _PinnedHTTP(http.client.HTTPConnection):
    """Plain HTTP to a checked address; the Host header still names the host."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(_PinnedHTTP):
    """TLS to a checked address, verified against the host name (SNI too)."""

    def connect(self) -> None:
        super().connect()
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(self.sock, server_hostname=self.host)


def download(url: str, policy: HostPolicy, limits: Limits = Limits()) -> bytes:
    """The image's bytes; `ImageFetchFailed` for anything the spec's rules do not allow."""
    deadline = time.monotonic() + limits.timeout_s
    for _ in range(MAX_REDIRECTS + 1):
        try:
            body, location = _get(url, policy, limits, deadline)
        except (OSError, http.client.HTTPException, RefusedHost) as error:
            raise ImageFetchFailed(_reason(error)) from None
        if location is None:
            return body
        url = urljoin(url, location)
    raise ImageFetchFailed(f"more than {MAX_REDIRECTS} redirects")


def _reason(error: Exception) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    return str(error) or type(error).__name__


def _get(url: str, policy: HostPolicy, limits: Limits,
         deadline: float) -> tuple[bytes, str | None]:
    """One request: (body, None) for 200, (b"", location) for a redirect."""
    connection = _connect(url, policy, _left(deadline))
    try:
        connection.request("GET", _target(url), headers={"Accept": "image/jpeg, image/bmp"})
        response = connection.getresponse()
        if response.status in REDIRECTS and response.getheader("Location"):
            return b"", response.getheader("Location")
        if response.status != 200:
            raise ImageFetchFailed(f"HTTP {response.status}")
        return _read(response, limits.max_bytes, deadline), None
    finally:
        connection.close()


def _connect(url: str, policy: HostPolicy, timeout: float) -> _PinnedHTTP:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImageFetchFailed(f"not an http(s) URL: {parts.scheme or 'no scheme'}")
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    address = policy.address_of(parts.hostname, port)
    kind = _PinnedHTTPS if https else _PinnedHTTP
    return kind(parts.hostname, port, address, timeout)


def _target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _read(response: http.client.HTTPResponse, max_bytes: int, deadline: float) -> bytes:
    length = response.getheader("Content-Length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise ImageFetchFailed(f"larger than {max_bytes} bytes")
    chunks, size = [], 0
    while chunk := response.read1(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise ImageFetchFailed(f"larger than {max_bytes} bytes")
        chunks.append(chunk)
        _left(deadline)
    return b"".join(chunks)


def _left(deadline: float) -> float:
    """Seconds until the deadline; the fetch has timed out once none are left."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise ImageFetchFailed("timed out")
    return left
