"""POSTing a signed body to a webhook: one HTTP client (connection pool) per app id, so a receiver
that hangs holds only its own app's connections.

`post` never raises for the receiver's faults: it answers what happened, as the deliverer records
it (`HTTP 500`, `timeout`, `connection failed`, ...), without the URL (it may hold credentials).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

import httpx

from cloudrec.webhooks.config import Webhook


@dataclass(frozen=True)
class Answer:
    status: int = 0  # 0: no HTTP answer
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def reason(self) -> str:
        return self.error or f"HTTP {self.status}"


class Transport(Protocol):
    async def post(self, hook: Webhook, content: bytes, headers: dict[str, str]) -> Answer: ...

    async def close(self) -> None: ...


class HttpTransport:
    def __init__(self, max_connections: int = 32) -> None:
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._limits = httpx.Limits(max_connections=max_connections,
                                    max_keepalive_connections=max_connections)

    async def post(self, hook: Webhook, content: bytes, headers: dict[str, str]) -> Answer:
        """One attempt, answered or abandoned within the webhook's timeout (10 s)."""
        client = self._client(hook.appid)
        try:
            async with asyncio.timeout(hook.timeout_s):
                response = await client.post(hook.url, content=content, headers=headers)
        except (TimeoutError, httpx.TimeoutException):
            return Answer(error="timeout")
        except httpx.ConnectError:
            return Answer(error="connection failed")
        except httpx.HTTPError as error:
            return Answer(error=type(error).__name__)
        return Answer(response.status_code)

    def _client(self, appid: str) -> httpx.AsyncClient:
        if appid not in self._clients:
            self._clients[appid] = httpx.AsyncClient(
                limits=self._limits, timeout=httpx.Timeout(None), follow_redirects=False,
                trust_env=False)
        return self._clients[appid]

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
