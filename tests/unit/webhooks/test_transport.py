"""The HTTP transport against a receiver on 127.0.0.1: answers, refusals, hangs, outages."""

from __future__ import annotations

import asyncio
import time

import pytest

from cloudrec.webhooks.config import Webhook
from cloudrec.webhooks.envelope import body, headers
from cloudrec.webhooks.receiver import Receiver
from cloudrec.webhooks.transport import Answer, HttpTransport

NOTICE = {"noticeId": "n1", "sid": "s1", "eventType": 40, "payload": {"sequence": 0}}


@pytest.fixture
def receiver() -> Receiver:
    started = Receiver("k").start()
    yield started
    started.behave("ok")
    started.stop()


def post(receiver: Receiver, timeout_s: float = 10.0) -> tuple[Answer, float]:
    hook = Webhook("app", receiver.url, "k", timeout_s=timeout_s)

    async def once() -> Answer:
        transport = HttpTransport()
        try:
            content = body(NOTICE, 5)
            return await transport.post(hook, content, headers(content, "k"))
        finally:
            await transport.close()

    began = time.monotonic()
    return asyncio.run(once()), time.monotonic() - began


def test_a_signed_post_is_answered_200(receiver: Receiver) -> None:
    answer, _ = post(receiver)

    assert answer == Answer(200) and answer.ok
    (got,) = receiver.got()
    assert got.signed and got.notice == {**NOTICE, "notifyMs": 5}


def test_500_hang_and_absence_are_answers_not_exceptions(receiver: Receiver) -> None:
    receiver.behave("error")
    assert post(receiver)[0].reason == "HTTP 500"
    receiver.behave("hang")
    answer, took = post(receiver, timeout_s=0.5)
    assert answer == Answer(error="timeout") and 0.4 < took < 3
    assert not receiver.got()
    receiver.stop()
    assert post(receiver)[0] == Answer(error="connection failed")
