"""/healthz and /metrics: answered without credentials, 503 when the service is not healthy."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from cloudrec.api.app import create_app
from cloudrec.api.settings import ApiSettings

from .conftest import FakeBackend


class Operations:
    def __init__(self, healthy: bool) -> None:
        self.healthy = healthy

    def health(self) -> tuple[bool, dict[str, Any]]:
        if self.healthy:
            return True, {"status": "ok", "sessions": 2}
        return False, {"status": "unavailable", "reason": "GetTimeoutError"}

    def metrics(self) -> str:
        return "# TYPE cloudrec_failovers_total counter\ncloudrec_failovers_total 3\n"


def test_health_and_metrics_need_no_credentials(settings: ApiSettings) -> None:
    client = TestClient(create_app(FakeBackend(), settings, Operations(True)))
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok", "sessions": 2}
    scraped = client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "cloudrec_failovers_total 3" in scraped.text


def test_an_unhealthy_service_answers_503(settings: ApiSettings) -> None:
    client = TestClient(create_app(FakeBackend(), settings, Operations(False)))
    answer = client.get("/healthz")
    assert answer.status_code == 503 and answer.json()["status"] == "unavailable"


def test_without_operations_there_are_no_such_routes(settings: ApiSettings) -> None:
    client = TestClient(create_app(FakeBackend(), settings))
    assert client.get("/metrics").status_code == 404
