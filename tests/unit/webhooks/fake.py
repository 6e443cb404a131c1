"""A transport that answers as each test tells it, and the events of sessions of several apps."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cloudrec.events.envelope import Event
from cloudrec.events.log import EventLog
from cloudrec.webhooks.config import Webhook
from cloudrec.webhooks.transport import Answer

from ..projections.session import SessionEvents

Rule = Callable[[dict[str, Any], int], Awaitable[Answer]]  # (notice, attempt) -> answer


@dataclass(frozen=True)
class Call:
    appid: str
    notice: dict[str, Any]
    content: bytes
    headers: dict[str, str]
    at: float


class FakeTransport:
    def __init__(self, rules: dict[str, Rule] | None = None) -> None:
        self.rules = rules or {}
        self.calls: list[Call] = []

    async def post(self, hook: Webhook, content: bytes, headers: dict[str, str]) -> Answer:
        notice = json.loads(content)
        self.calls.append(Call(hook.appid, notice, content, headers, time.monotonic()))
        attempt = sum(c.notice["noticeId"] == notice["noticeId"] for c in self.calls)
        rule = self.rules.get(hook.appid)
        return await rule(notice, attempt) if rule else Answer(200)

    async def close(self) -> None:
        pass

    def ok_calls(self, appid: str | None = None) -> list[Call]:
        return [c for c in self.calls if appid in (None, c.appid)]


def session(sid: str, appid: str) -> list[Event]:
    """A whole composite session of `appid` (9 notifications)."""
    events = SessionEvents(sid).full()
    return [events[0].model_copy(update={"appid": appid}), *events[1:]]


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def everything(log: EventLog) -> list[Event]:
    return [event for _, event in log.read_all(after=0, limit=100_000)]
