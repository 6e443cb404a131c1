"""Webhooks against real HTTP receivers on 127.0.0.1, on both event logs (embedded and Kafka).

1. Faults on a real event stream: four apps, each with its own receiver; one answers 500 for a
   while, one hangs, one is not there at all, and one is fine. The fine one gets everything at
   once; the others get theirs when they recover; every attempt is in the log.
2. A real recording while its receiver is down for 30 s, the deliverer (`cloudrec webhooks`, a
   process of its own) killed with SIGKILL and restarted twice: every notification of the session
   arrives, signed, first arrivals in sequence order, duplicates only as identical copies.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudrec import scenario
from cloudrec.client import RecordingClient
from cloudrec.events.backends import open_event_log
from cloudrec.events.callback import CallbackAbandoned, CallbackDelivered, CallbackFailed
from cloudrec.events.envelope import Event
from cloudrec.events.log import EventLog, every_event
from cloudrec.projections import callbacks
from cloudrec.runtime import Runtime
from cloudrec.webhooks.config import WebhookSettings
from cloudrec.webhooks.deliverer import start_deliverer
from cloudrec.webhooks.receiver import Received, Receiver

from ..unit.projections.session import SessionEvents
from .conftest import KAFKA

pytestmark = pytest.mark.integration

SECRET = "shh-" + uuid.uuid4().hex[:8]
REPO = Path(__file__).resolve().parents[2]


def everything(log: EventLog) -> list[Event]:
    return list(every_event(log))


def first_arrivals(received: list[Received]) -> list[Received]:
    seen: dict[str, Received] = {}
    for item in received:
        seen.setdefault(item.notice_id, item)
    return list(seen.values())


def arrived(receiver: Receiver, expected: list[dict[str, Any]], timeout_s: float) -> bool:
    """Wait until every expected notification arrived (duplicates do not count)."""
    wanted, deadline = {n["noticeId"] for n in expected}, time.monotonic() + timeout_s
    while not wanted <= {r.notice_id for r in receiver.got()}:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def assert_complete(received: list[Received], expected: list[dict[str, Any]]) -> None:
    """Every expected notification arrived signed, first arrivals in sequence order per
    session, and any duplicate is the same notification (only `notifyMs` differs)."""
    by_id = {n["noticeId"]: n for n in expected}
    assert all(r.signed for r in received)
    assert {r.notice_id for r in received} == set(by_id)
    for r in received:
        assert {**r.notice, "notifyMs": 0} == {**by_id[r.notice_id], "notifyMs": 0}
    for sid in {n["sid"] for n in expected}:
        firsts = [r.sequence for r in first_arrivals(received) if r.sid == sid]
        assert firsts == sorted(n["payload"]["sequence"] for n in expected if n["sid"] == sid)


# -- 1. faults on a real event stream ---------------------------------------------------------


@pytest.fixture(params=["embedded", "kafka"])
def events_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "kafka":
        request.getfixturevalue("kafka_bootstrap")
        return f"kafka://{KAFKA}/hooks-{uuid.uuid4().hex[:12]}"
    return f"sqlite:///{tmp_path}/events.db"


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    made = {app: Receiver(SECRET).start() for app in ("good", "flaky", "hung", "dead")}
    made["flaky"].behave("error")
    made["hung"].behave("hang")
    made["dead"].stop()
    yield made
    for receiver in made.values():
        receiver.behave("ok")
        receiver.stop()


def sessions(apps: list[str], per_app: int) -> list[list[Event]]:
    made = []
    for app in apps:
        for n in range(per_app):
            events = SessionEvents(f"{app}-{n}-{uuid.uuid4().hex[:6]}").full()
            made.append([events[0].model_copy(update={"appid": app}), *events[1:]])
    return made


def test_500_hang_and_dead_receivers_never_hold_up_a_good_one(
        events_url: str, receivers: dict[str, Receiver], tmp_path: Path) -> None:
    flags = [f"{app}={r.url},secret={SECRET},timeout=1s,backoff-max=0.5s"
             for app, r in receivers.items()]
    log = open_event_log(events_url)
    deliverer = start_deliverer(log, events_url, WebhookSettings.from_options(flags, None, {}),
                                tmp_path / "state.db", group=f"hooks-{uuid.uuid4().hex[:8]}")
    try:
        stream = sessions(list(receivers), per_app=3)
        for step in range(len(stream[0])):  # the sessions' events interleaved, stamped now
            for events in stream:
                log.append([events[step].model_copy(update={"at_ms": int(time.time() * 1000)})])
        expected = {app: [n for events in stream if events[0].appid == app
                          for n in callbacks.notifications(log.read_stream(events[0].stream_id),
                                                           events[0].stream_id)]
                    for app in receivers}
        assert arrived(receivers["good"], expected["good"], timeout_s=10)
        good = receivers["good"].got()
        failing = {app: receivers[app].refused for app in ("flaky", "hung")}
        # Held up behind the hung receiver (1 s timeouts, 27 notifications) the last one would
        # wait >= 20 s; alone, tens of ms (seconds at worst on this shared 2-core machine).
        assert max(r.arrived_ms - r.notice["payload"]["sendts"] for r in good) < 8000
        time.sleep(2.0)  # the others keep failing meanwhile
        for app in ("flaky", "hung", "dead"):
            assert not receivers[app].got()
        assert all(receivers[app].refused > count for app, count in failing.items())
        for app in ("flaky", "hung", "dead"):
            receivers[app].behave("ok")
        receivers["dead"].start()
        for app in ("flaky", "hung", "dead"):
            assert arrived(receivers[app], expected[app], timeout_s=20), app
    finally:
        deliverer.stop()
    for app, receiver in receivers.items():
        assert_complete(receiver.got(), expected[app])
    outcomes = [e for e in everything(log) if isinstance(e, CallbackFailed)]
    reasons = {app: {e.reason for e in outcomes if e.appid == app} for app in receivers}
    log.close()
    assert reasons == {"good": set(), "flaky": {"HTTP 500"}, "hung": {"timeout"},
                       "dead": {"connection failed"}}


# -- 2. a real recording, receiver down for 30 s, the deliverer killed ------------------------


class DelivererProcess:
    """`cloudrec webhooks` in a process of its own, killed with SIGKILL when told."""

    def __init__(self, events_url: str, flag: str, state: Path, log: Path) -> None:
        self.command = [sys.executable, "-m", "cloudrec", "webhooks", "--events", events_url,
                        "--webhook", flag, "--webhook-state", str(state)]
        self.log, self.process = log, None
        self.started = 0

    def start(self) -> None:
        self.started += 1
        with self.log.open("a") as err:
            self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=err,
                                            text=True, cwd=REPO,
                                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
        ready = threading.Event()
        threading.Thread(target=lambda: (self.process.stdout.readline(), ready.set()),
                         daemon=True).start()
        assert ready.wait(90), f"the deliverer did not start: {self.log.read_text()[-2000:]}"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


def ended(log: EventLog, sid: str, timeout_s: float) -> list[dict[str, Any]]:
    """The session's notifications once it exited (and a moment for any late progress)."""
    deadline = time.monotonic() + timeout_s
    while not any(n["eventType"] == 11 for n in callbacks.notifications(log.read_stream(sid),
                                                                        sid)):
        assert time.monotonic() < deadline, "the session did not exit"
        time.sleep(0.2)
    time.sleep(2.0)
    return callbacks.notifications(log.read_stream(sid), sid)


def at(t0: float, seconds: float) -> None:
    time.sleep(max(0.0, t0 + seconds - time.monotonic()))


@pytest.mark.slow
def test_a_recordings_callbacks_survive_a_receiver_outage_and_deliverer_kills(
        runtime: Runtime, server: Any, customers: dict[str, tuple[str, str]],
        tmp_path: Path) -> None:
    secret, appid = customers["alice"]
    receiver = Receiver(SECRET).start()
    receiver.stop()  # down from before the start: 40, 30, 43, 44, 42 and 4 must wait
    flag = f"{appid}={receiver.url},secret={SECRET},retry-for=10m,backoff-max=1s"
    deliverer = DelivererProcess(runtime.settings.events_url, flag, tmp_path / "state.db",
                                 tmp_path / "deliverer.log")
    deliverer.start()
    client = RecordingClient(server.url, "alice", secret, appid)
    plan = scenario.Scenario(appid, cname=f"hooks{uuid.uuid4().hex[:6]}", seconds=36.0)
    result: dict[str, Any] = {}
    recording = threading.Thread(target=lambda: result.update(
        outcome=scenario.run(runtime, client, plan)))
    t0 = time.monotonic()
    recording.start()
    try:
        at(t0, 12)
        deliverer.kill()  # while it retries against the dead receiver
        deliverer.start()
        at(t0, 30)
        receiver.start()  # back after 30 s, on the same port
        at(t0, 31.5)
        deliverer.kill()  # while it catches up
        deliverer.start()
        recording.join(120)
        sid = result["outcome"].sid
        expected = ended(runtime.events, sid, timeout_s=60)
        assert arrived(receiver, expected, timeout_s=30)
        time.sleep(1.0)  # anything still coming (a late duplicate) is checked too
    finally:
        deliverer.stop()
        receiver.stop()
        client.close()
    received = [r for r in receiver.got() if r.sid == sid]
    assert_complete(received, expected)
    assert {n["eventType"] for n in expected} >= {40, 30, 43, 44, 42, 4, 41, 31, 11}
    mine = [e for e in runtime.events.read_stream(sid)
            if isinstance(e, CallbackDelivered | CallbackFailed | CallbackAbandoned)]
    assert not [e for e in mine if isinstance(e, CallbackAbandoned)]
    failed = [e for e in mine if isinstance(e, CallbackFailed)]
    assert {e.reason for e in failed} == {"connection failed"}
    head = [e.attempt for e in failed if e.notice_id == failed[0].notice_id]
    assert head == list(range(1, len(head) + 1)) and len(head) >= 5  # counted across kills
    delivered = {e.notice_id for e in mine if isinstance(e, CallbackDelivered)}
    assert delivered == {n["noticeId"] for n in expected}  # the log knows what arrived
    assert deliverer.started == 3
    tail = subprocess.run([sys.executable, "-m", "cloudrec", "events", "tail", "--events",
                           runtime.settings.events_url, "--sid", sid, "--from-beginning",
                           "--no-follow"], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    shown = [json.loads(line)["type"] for line in tail.stdout.splitlines()]
    assert shown.count("CallbackFailed") == len(failed)
    assert SECRET not in tail.stdout and SECRET not in (tmp_path / "deliverer.log").read_text()
