"""A webhook receiver on 127.0.0.1, for tests, the benchmark and trying webhooks out.

It checks both signature headers with the secret, keeps every notification it got with its
arrival time, and answers 200 `{}`, or as told by `behave`: "error" answers 500, "hang" answers
only after `hang_s` or when told to behave again (then as told). `stop` closes the socket and
cuts open connections (connections refused); `start` opens it again on the same port.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cloudrec.webhooks.envelope import verify


@dataclass(frozen=True)
class Received:
    notice: dict[str, Any]
    arrived_ms: int
    signed: bool  # both signature headers verified with the receiver's secret

    @property
    def notice_id(self) -> str:
        return str(self.notice["noticeId"])

    @property
    def sid(self) -> str:
        return str(self.notice["sid"])

    @property
    def sequence(self) -> int:
        return int(self.notice["payload"]["sequence"])


class Receiver:
    def __init__(self, secret: str, port: int = 0, path: str = "/callbacks") -> None:
        self.secret, self.path, self.port = secret, path, port
        self.mode, self.hang_s = "ok", 30.0
        self._released = threading.Event()
        self.received: list[Received] = []
        self.refused = 0  # requests that came while told to fail or hang
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> Receiver:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        server.daemon_threads = True
        self.port, self._server = server.server_address[1], server
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Go away: stop listening and cut the open (keep-alive) connections."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def connected(self, connection: socket.socket, open_: bool) -> None:
        with self._lock:
            (self._connections.add if open_ else self._connections.discard)(connection)

    def behave(self, mode: str) -> None:
        """"ok", "error" (answer 500) or "hang"."""
        self.mode = mode
        (self._released.clear if mode == "hang" else self._released.set)()

    def got(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def wait_for(self, count: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while len(self.got()) < count:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def take(self, content: bytes, headers: dict[str, str]) -> int:
        """Handle one request: the HTTP status to answer."""
        if self.mode != "ok":
            with self._lock:
                self.refused += 1
            if self.mode == "hang":
                self._released.wait(self.hang_s)
            if self.mode != "ok":
                return 500
        received = Received(json.loads(content), time.time_ns() // 1_000_000,
                            verify(content, headers, self.secret))
        with self._lock:
            self.received.append(received)
        return 200


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real endpoint
        wbufsize = -1  # the answer leaves in one write (flushed after each request)

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            receiver.connected(self.connection, True)

        def finish(self) -> None:
            receiver.connected(self.connection, False)
            super().finish()

        def do_POST(self) -> None:
            content = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = receiver.take(content, dict(self.headers.items()))
            answer = b"{}"
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:  # the sender gave up waiting (its timeout) and hung up
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
