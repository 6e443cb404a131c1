"""Serving the REST API over a runtime: uvicorn in the foreground or in a background thread."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from cloudrec.api.app import create_app
from cloudrec.api.auth import Customer
from cloudrec.api.settings import ALL_REGIONS, ApiSettings
from cloudrec.runtime import Runtime

KEY_FILE = Path(".cloudrec/resource.key")


def resource_key(path: Path = KEY_FILE) -> bytes:
    """CLOUDREC_RESOURCE_KEY, else a random key kept in .cloudrec/ (survives restarts)."""
    if key := os.environ.get("CLOUDREC_RESOURCE_KEY"):
        return key.encode()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


def parse_customer(text: str) -> Customer:
    """`customerId:secret:app1,app2`."""
    customer_id, secret, apps = text.split(":", 2)
    return Customer(customer_id, secret, frozenset(a for a in apps.split(",") if a))


def api_settings(customers: list[Customer], rate_limit: float = 10.0,
                 regions: frozenset[str] = ALL_REGIONS) -> ApiSettings:
    return ApiSettings(customers=tuple(customers), resource_key=resource_key(),
                       rate_limit_per_second=rate_limit, regions=regions)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class BackgroundServer:
    """The API on 127.0.0.1:<port> in a daemon thread (the demo and the end-to-end tests)."""

    def __init__(self, runtime: Runtime, settings: ApiSettings, port: int | None = None) -> None:
        self.port = port or free_port()
        app = create_app(runtime.service, settings, runtime.service)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def serve(runtime: Runtime, settings: ApiSettings, host: str, port: int,
          tls: tuple[Path, Path] | None = None) -> None:
    """Serve the API; `tls` = (certificate chain, private key) serves HTTPS only."""
    uvicorn.run(create_app(runtime.service, settings, runtime.service),
                **listen(host, port, tls))


def listen(host: str, port: int, tls: tuple[Path, Path] | None) -> dict[str, Any]:
    """uvicorn's listening options: plain HTTP, or HTTPS with the given PEM files."""
    options: dict[str, Any] = {"host": host, "port": port, "log_level": "info"}
    if tls is not None:
        cert, key = tls
        for path in tls:
            if not path.is_file():
                raise FileNotFoundError(f"TLS file not found: {path}")
        options.update(ssl_certfile=str(cert), ssl_keyfile=str(key))
    return options
