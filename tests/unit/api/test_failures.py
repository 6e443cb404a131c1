"""A backend bug is a 500 with a service-error body, never a stack trace or HTML."""

from __future__ import annotations

from fastapi.testclient import TestClient

from cloudrec.api.app import create_app


class BrokenBackend:
    def start(self, *args):
        raise RuntimeError("boom")


def test_unexpected_backend_errors_are_500_code_15(settings, api):
    client = TestClient(create_app(BrokenBackend(), settings), headers=api.basic(api.alice),
                        raise_server_exceptions=False)
    api = type(api)(client)
    resource_id = api.acquire().json()["resourceId"]

    response = api.start(resource_id)

    assert response.status_code == 500
    assert response.json() == {"code": 15, "reason": "internal error"}
