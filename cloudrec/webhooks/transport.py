"""POSTing a signed body to a webhook: one HTTP client (connection pool) per app id, so a receiver
that hangs holds only its own app's connections. At most `connections` requests per app are in
flight (the webhook's setting); further lanes wait their turn before entering the pool, which
keeps the pool (and the receiver) from thrashing when hundreds of sessions are due at once.

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
    def __init__(self) -> None:
        self._clients: dict[str, tuple[httpx.AsyncClient, asyncio.Semaphore]] = {}

    async def post(self, hook: Webhook, content: bytes, headers: dict[str, str]) -> Answer:
        """One attempt, answered or abandoned within the webhook's timeout (10 s) from the
        moment it has a connection."""
        client, turn = self._client(hook)
        async with turn:
            return await self._post(client, hook, content, headers)

    async def _post(self, client: httpx.AsyncClient, hook: Webhook, content: bytes,
                    headers: dict[str, str]) -> Answer:
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

    def _client(self, hook: Webhook) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        if hook.appid not in self._clients:
            limits = httpx.Limits(max_connections=hook.connections,
                                  max_keepalive_connections=hook.connections)
            client = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(None),
                                       follow_redirects=False, trust_env=False)
            self._clients[hook.appid] = client, asyncio.Semaphore(hook.connections)
        return self._clients[hook.appid]

    async def close(self) -> None:
        for client, _ in self._clients.values():
            await client.aclose()
        self._clients.clear()
