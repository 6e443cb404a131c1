"""`cloudrec serve --tls-cert --tls-key`: the API over HTTPS, and nothing over plain HTTP.

Tried: a self-signed certificate made with openssl, the app served by uvicorn with the options
`serve` uses, then an HTTPS call trusting that certificate, a plain HTTP call to the same port
and a missing key file."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from cloudrec.api.app import create_app
from cloudrec.api.settings import ApiSettings
from cloudrec.server import free_port, listen

from .conftest import ALICE, FakeBackend, basic, prefix


@pytest.fixture
def pem(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_the_api_answers_over_https_only(pem: tuple[Path, Path], settings: ApiSettings) -> None:
    port = free_port()
    config = uvicorn.Config(create_app(FakeBackend(), settings),
                            **listen("127.0.0.1", port, pem) | {"log_level": "warning"})
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        body = {"cname": "room42", "uid": "900001", "clientRequest": {}}
        with httpx.Client(verify=str(pem[0])) as https:
            answer = https.post(f"https://127.0.0.1:{port}{prefix()}/acquire", json=body,
                                headers=basic(ALICE))
        assert answer.status_code == 200 and answer.json()["resourceId"]
        with pytest.raises(httpx.HTTPError):
            httpx.post(f"http://127.0.0.1:{port}{prefix()}/acquire", json=body,
                       headers=basic(ALICE), timeout=5)
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_missing_tls_file_is_said_before_serving(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("")
    with pytest.raises(FileNotFoundError, match="key.pem"):
        listen("127.0.0.1", 1, (tmp_path / "cert.pem", tmp_path / "key.pem"))
