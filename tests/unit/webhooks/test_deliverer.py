"""The deliverer over an in-memory log with a fake transport: order per session, isolation per
app, retries and their record in the log, resuming after a restart, settings changed live."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from cloudrec.events.callback import CallbackAbandoned, CallbackDelivered, CallbackFailed
from cloudrec.events.memory import MemoryEventLog
from cloudrec.events.upload import FileBackedUp, UploadProgressed
from cloudrec.projections import callbacks
from cloudrec.projections.runner import MemoryViewStore, ViewStore
from cloudrec.tail import tail
from cloudrec.webhooks import envelope
from cloudrec.webhooks.config import WebhookSettings, parse_flag
from cloudrec.webhooks.deliverer import Deliverer
from cloudrec.webhooks.transport import Answer

from ..projections.session import SessionEvents
from .fake import FakeTransport, everything, session, wait_until

SECRET = "s3cr3t"


def hooks(*flags: str) -> WebhookSettings:
    return WebhookSettings({h.appid: h for h in map(parse_flag, flags)})


def start(log: MemoryEventLog, settings: WebhookSettings, transport: FakeTransport,
          store: ViewStore | None = None, from_beginning: bool = True) -> Deliverer:
    return Deliverer(log, settings, store or MemoryViewStore(), transport=transport,
                     poll_s=0.005, from_beginning=from_beginning).start()


def outcomes(log: MemoryEventLog, kind: type) -> list:
    return [e for e in everything(log) if isinstance(e, kind)]


@pytest.fixture
def log() -> MemoryEventLog:
    return MemoryEventLog()


def test_every_notification_is_posted_signed_and_in_order_per_session(log) -> None:
    async def jitter(notice: dict, attempt: int) -> Answer:
        await asyncio.sleep((hash(notice["noticeId"]) % 5) / 1000)  # answers out of step
        return Answer(200)

    transport = FakeTransport({"app1": jitter})
    deliverer = start(log, hooks(f"app1=http://127.0.0.1:1/cb,secret={SECRET}"), transport)
    a, b = session("sidA", "app1"), session("sidB", "app1")
    for x, y in zip(a, b, strict=True):
        log.append([x])
        log.append([y])
    try:
        wait_until(lambda: len(outcomes(log, CallbackDelivered)) == 18)
    finally:
        deliverer.stop()

    for sid, events in (("sidA", a), ("sidB", b)):
        sent = [c.notice for c in transport.calls if c.notice["sid"] == sid]
        expected = callbacks.notifications(events, sid)
        assert [{**n, "notifyMs": 0} for n in sent] == [{**n, "notifyMs": 0} for n in expected]
    assert all(envelope.verify(c.content, c.headers, SECRET) for c in transport.calls)
    assert all(c.headers["Content-Type"] == "application/json" for c in transport.calls)
    assert {e.attempt for e in outcomes(log, CallbackDelivered)} == {1}


def test_a_dead_receiver_never_delays_another_apps_callbacks(log) -> None:
    async def hang(notice: dict, attempt: int) -> Answer:
        await asyncio.sleep(3600)
        return Answer(200)

    transport = FakeTransport({"dead": hang})
    deliverer = start(log, hooks("dead=http://127.0.0.1:1/", "live=http://127.0.0.1:2/"),
                      transport)
    try:
        for n in range(5):
            log.append(session(f"dead{n}", "dead"))
        log.append(session("live0", "live"))
        wait_until(lambda: len(transport.ok_calls("live")) == 9, timeout_s=2.0)
        assert len(transport.ok_calls("dead")) == 5  # each dead session stuck on its first
    finally:
        deliverer.stop()
    delivered = outcomes(log, CallbackDelivered)
    assert {e.appid for e in delivered} == {"live"} and len(delivered) == 9


def test_retries_keep_the_notice_id_refresh_notify_ms_and_are_recorded(log) -> None:
    async def fail_twice(notice: dict, attempt: int) -> Answer:
        return Answer(500) if attempt <= 2 else Answer(200)

    transport = FakeTransport({"app1": fail_twice})
    deliverer = start(log, hooks("app1=http://127.0.0.1:1/"), transport)
    log.append(session("sid1", "app1")[:2])  # started, launched: recorder_started
    try:
        wait_until(lambda: outcomes(log, CallbackDelivered))
    finally:
        deliverer.stop()

    calls = transport.calls
    assert len(calls) == 3 and len({c.notice["noticeId"] for c in calls}) == 1
    assert calls[2].notice["notifyMs"] >= calls[0].notice["notifyMs"] + 500  # waited 0.5 s
    failed = outcomes(log, CallbackFailed)
    assert [(e.attempt, e.reason, e.http_status) for e in failed] == [
        (1, "HTTP 500", 500), (2, "HTTP 500", 500)]
    assert outcomes(log, CallbackDelivered)[0].attempt == 3
    assert all(e.stream_id == "sid1" and e.generation == 0 for e in failed)


def test_giving_up_is_recorded_and_the_session_goes_on(log) -> None:
    async def refuse_launch(notice: dict, attempt: int) -> Answer:
        return Answer(error="timeout") if notice["eventType"] == 40 else Answer(200)

    transport = FakeTransport({"off": refuse_launch, "on": refuse_launch})
    deliverer = start(log, hooks("off=http://127.0.0.1:1/,retry=off",
                                 "on=http://127.0.0.1:1/,retry-for=0s"), transport)
    log.append(session("sidOff", "off")[:3])  # 40, then 30
    log.append(session("sidOn", "on")[:3])
    try:
        wait_until(lambda: len(outcomes(log, CallbackDelivered)) == 2)
    finally:
        deliverer.stop()

    abandoned = {e.stream_id: e for e in outcomes(log, CallbackAbandoned)}
    assert (abandoned["sidOff"].attempts, abandoned["sidOff"].reason) == (1, "timeout")
    assert abandoned["sidOn"].attempts == 3  # the spec's three attempts
    assert [c.notice["eventType"] for c in transport.ok_calls("on")] == [40, 40, 40, 30]


def test_a_restarted_deliverer_resumes_from_the_log(log) -> None:
    store = MemoryViewStore()  # outlives the deliverer, as the SQLite store does

    async def down(notice: dict, attempt: int) -> Answer:
        return Answer(200) if notice["eventType"] == 40 else Answer(error="connection failed")

    first = FakeTransport({"app1": down})
    deliverer = start(log, hooks("app1=http://127.0.0.1:1/,backoff-max=0.01s"), first, store,
                      from_beginning=False)
    events = session("sid1", "app1")
    log.append(events[:6])  # 40 delivered; 30 fails over and over
    wait_until(lambda: len(outcomes(log, CallbackFailed)) >= 3)
    deliverer.stop()
    log.append(events[6:])  # the rest arrives while no deliverer runs
    tried = max(e.attempt for e in outcomes(log, CallbackFailed))

    second = FakeTransport()
    deliverer = start(log, hooks("app1=http://127.0.0.1:1/"), second, store, from_beginning=False)
    try:
        wait_until(lambda: len(outcomes(log, CallbackDelivered)) == 9)
    finally:
        deliverer.stop()

    expected = callbacks.notifications(events, "sid1")
    ids = [n["noticeId"] for n in expected]
    assert [c.notice["noticeId"] for c in second.calls] == ids[1:]  # none skipped, none twice
    resumed = [e for e in outcomes(log, CallbackDelivered) if e.notice_id == ids[1]]
    assert resumed[0].attempt == tried + 1  # the attempts go on counting


def test_a_new_deliverer_does_not_deliver_history(log) -> None:
    log.append(session("old", "app1"))
    transport = FakeTransport()
    deliverer = start(log, hooks("app1=http://127.0.0.1:1/"), transport, from_beginning=False)
    try:
        log.append(session("new", "app1"))
        wait_until(lambda: len(outcomes(log, CallbackDelivered)) == 9)
    finally:
        deliverer.stop()
    assert {c.notice["sid"] for c in transport.calls} == {"new"}


def test_webhooks_change_without_a_restart(log, tmp_path: Path) -> None:
    path = tmp_path / "webhooks.json"
    path.write_text("{}")
    transport = FakeTransport()
    deliverer = start(log, WebhookSettings({}, path), transport)
    try:
        log.append(session("before", "app1"))
        path.write_text(json.dumps({"app1": {"url": "http://127.0.0.1:1/", "events": [11]}}))
        wait_until(lambda: deliverer.hooks.get("app1") is not None, timeout_s=5)
        log.append(session("after", "app1"))
        wait_until(lambda: len(outcomes(log, CallbackDelivered)) == 1)
    finally:
        deliverer.stop()
    assert [(c.notice["sid"], c.notice["eventType"]) for c in transport.calls] == [("after", 11)]


def catalogue_sessions() -> list:
    """Every event kind cloudrec emits that makes a notification, failover included."""
    s, t = SessionEvents("sidA"), SessionEvents("sidB")
    env = lambda ev: {"stream_id": ev.sid, "at_ms": ev._at()}  # noqa: E731
    a = [s.started(), s.launched(), s.uploader(), s.stream("audio"), s.stream("video"),
         s.slice_started(), s.uploaded(s.playlist, "playlist"), s.repeated(),
         s.uploaded("rec/sidA_room42__uid_s_7__uid_e_video_20260101000000000.jpg", "snapshot"),
         UploadProgressed(**env(s), progress=5000), s.upload_failed("a.ts"),
         FileBackedUp(**env(s), key="a.ts", kind="slice", size=3, reason="down"),
         s.failed(1), s.launched(2, 2002), s.slice_started(2, discontinue_ms=1234),
         s.error(2), s.left(2), s.stopped("uploaded"), s.exited(1)]
    b = [t.started(), t.launched(), t.stopped("backuped"), t.exited()]
    return [a, b]


def test_every_catalogue_entry_reaches_the_webhook_with_its_details(log) -> None:
    transport = FakeTransport()
    deliverer = start(log, hooks("app1=http://127.0.0.1:1/"), transport)
    sessions = catalogue_sessions()
    expected = [n for events in sessions
                for n in callbacks.notifications(events, events[0].stream_id)]
    try:
        for events in sessions:
            log.append(events)
        wait_until(lambda: len(transport.calls) == len(expected))
    finally:
        deliverer.stop()

    got = {c.notice["noticeId"]: c.notice for c in transport.calls}
    assert {n["eventType"] for n in got.values()} == set(callbacks.CATALOGUE)
    for notice in expected:
        assert got[notice["noticeId"]]["payload"] == notice["payload"]
    failover = [n["payload"]["details"] for n in expected if n["eventType"] in (12, 42)]
    assert {"msgName": "session_failover", "newUid": 2002} in failover
    assert any(d.get("discontinueUtcMs") == 1234 for d in failover)


def test_events_tail_shows_the_attempts(log) -> None:
    async def once(notice: dict, attempt: int) -> Answer:
        return Answer(503) if attempt == 1 else Answer(200)

    deliverer = start(log, hooks("app1=http://127.0.0.1:1/,secret=topsecret"),
                      FakeTransport({"app1": once}))
    log.append(session("sid1", "app1")[:2])
    try:
        wait_until(lambda: outcomes(log, CallbackDelivered))
    finally:
        deliverer.stop()
    lines: list[str] = []
    tail(log, lines.append, sid="sid1", from_beginning=True, follow=False)
    shown = [json.loads(line) for line in lines]
    assert [(e["type"], e.get("attempt")) for e in shown[-2:]] == [
        ("CallbackFailed", 1), ("CallbackDelivered", 2)]
    assert shown[-2]["reason"] == "HTTP 503" and shown[-1]["latency_ms"] >= 0
    assert not any("topsecret" in line or "127.0.0.1" in line for line in lines)


def test_the_group_commit_is_throttled_but_the_last_position_is_committed() -> None:
    from cloudrec.webhooks.deliverer import Throttled

    commits: list[int] = []
    throttled = Throttled(lambda position, partition: commits.append(position), every_s=60)
    for position in (3, 5, 9):
        throttled(position)
    throttled.flush()
    throttled.flush()

    assert commits == [3, 9]
