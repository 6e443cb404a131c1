"""R3: the Kafka broker is stopped and restarted while a composite recording runs.

What must hold: the recording's files are as good as without the fault; after recovery every
event is in the log exactly once (unique event ids, versions 1..n per stream, every slice once);
and every projection that followed the log through the outage (status and callbacks runners,
each a Kafka consumer group with a durable view store) equals a fresh replay of the log.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from cloudrec import scenario
from cloudrec.client import RecordingClient
from cloudrec.events.backends import open_event_log
from cloudrec.events.consumer_group import ConsumerGroup
from cloudrec.events.kafka import KafkaAddress, ensure_topic
from cloudrec.events.log import EventLog, every_event
from cloudrec.events.recording import RecordingStarted
from cloudrec.events.segment import SliceWritten
from cloudrec.events.upload import FileUploaded
from cloudrec.projections import callbacks, status
from cloudrec.projections.runner import CallbackRunner, ProjectionRunner
from cloudrec.projections.view_store import SqliteViewStore
from cloudrec.runtime import Runtime
from cloudrec.tail import end_of

from .conftest import SLICE_SECONDS, Broker
from .media import decode

pytestmark = [pytest.mark.integration, pytest.mark.slow,
              pytest.mark.parametrize("runtime", ["kafka"], indirect=True)]

PLAN = dict(seconds=24.0, late_join_s=3.0, best_fit_s=14.0, vertical_s=18.0, early_leave_s=20.0)


class Follower:
    """Runs projection runners in a thread, as a deployment would, until told to stop."""

    def __init__(self, runners: list[ProjectionRunner]) -> None:
        self.runners, self.errors = runners, 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.is_set():
            for runner in self.runners:
                try:
                    runner.catch_up()
                except Exception:  # a commit refused while the broker is away: next batch
                    self.errors += 1
            time.sleep(0.1)

    def stop(self) -> None:
        self.done.set()
        self.thread.join(60)
        for runner in self.runners:
            runner.catch_up()


@pytest.fixture(scope="module")
def survived(runtime: Runtime, server: Any, customers: dict[str, tuple[str, str]],
             own_kafka: Broker, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    url, tmp = runtime.settings.events_url, tmp_path_factory.mktemp("views")
    log, notices = open_event_log(url), []
    groups = [ConsumerGroup(url, f"status-{uuid.uuid4().hex[:8]}"),
              ConsumerGroup(url, f"callbacks-{uuid.uuid4().hex[:8]}")]
    runners = [ProjectionRunner(log, status, SqliteViewStore(tmp / "status.db"),
                                commit=groups[0].commit),
               CallbackRunner(log, callbacks, SqliteViewStore(tmp / "callbacks.db"),
                              deliver=notices.append, commit=groups[1].commit)]
    follower = Follower(runners)
    secret, appid = customers["alice"]
    client = RecordingClient(server.url, "alice", secret, appid)
    plan = scenario.Scenario(appid, cname="restart", **PLAN)  # type: ignore[arg-type]
    result: dict[str, Any] = {}
    recording = threading.Thread(target=lambda: result.update(
        outcome=scenario.run(runtime, client, plan)))
    recording.start()
    _wait_for_a_slice(log, "restart", timeout_s=60)  # the outage hits a running recording
    outage = [time.time()]
    own_kafka.run("down")
    time.sleep(3.0)
    own_kafka.run("up")
    outage.append(time.time())
    recording.join(240)
    follower.stop()
    client.close()
    return {"outcome": result["outcome"], "plan": plan, "url": url, "log": log,
            "outage": outage, "runners": runners, "groups": groups, "notices": notices,
            "root": Path(runtime.settings.storage_url.removeprefix("file://"))}


def _wait_for_a_slice(log: EventLog, cname: str, timeout_s: float) -> None:
    positions, sid, deadline = [0] * log.partitions, None, time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        batch = []
        for p, position in enumerate(positions):  # the channel's and the recording's
            read = log.read_all(after=position, partition=p)
            positions[p], batch = (read[-1][0] if read else position), batch + read
        for _, event in batch:
            if isinstance(event, RecordingStarted) and event.cname == cname:
                sid = event.stream_id
            if isinstance(event, SliceWritten) and event.stream_id == sid:
                return
        time.sleep(0.2)
    raise AssertionError(f"no slice of {cname} within {timeout_s} s")


def test_the_recording_is_unaffected(survived: dict[str, Any]) -> None:
    outcome, root = survived["outcome"], survived["root"]
    answer = outcome.stop_answer["serverResponse"]
    assert answer["uploadingStatus"] == "uploaded"
    text = (root / "demo" / f"{outcome.sid}_restart.m3u8").read_text()
    durations = [float(d) for d in re.findall(r"#EXTINF:(\d+\.\d{6}),\n", text)]
    slices = re.findall(rf"^{outcome.sid}_restart_(\d{{17}})\.ts$", text, re.M)
    assert len(slices) == len(durations) >= 3
    for name in slices:
        decoded = decode(root / "demo" / f"{outcome.sid}_restart_{name}.ts")
        assert decoded.video_codec == "h264" and decoded.audio_codec == "aac"
    assert all(abs(d - SLICE_SECONDS) < 0.1 for d in durations[:-1])
    mp4 = decode(root / "demo" / f"{outcome.sid}_restart_0.mp4")
    assert abs(mp4.video_seconds - sum(durations)) < 0.5
    assert mp4.video_seconds >= survived["plan"].seconds - 2.5  # the outage only delays stop
    assert np.diff(mp4.video_times).max() < 0.2  # no gap in the picture through the outage


def _everything(log: EventLog) -> list[Any]:
    return list(every_event(log))


def test_every_event_is_in_the_log_exactly_once(survived: dict[str, Any]) -> None:
    fresh = open_event_log(survived["url"])
    try:
        events = _everything(fresh)
    finally:
        fresh.close()
    assert len({e.event_id for e in events}) == len(events)
    for stream in {e.stream_id for e in events}:
        versions = [e.version for e in events if e.stream_id == stream]
        assert versions == list(range(1, len(versions) + 1)), stream
    sid = survived["outcome"].sid
    slices = [e for e in events if isinstance(e, SliceWritten) and e.stream_id == sid]
    assert sorted(e.index for e in slices) == list(range(len(slices)))
    uploaded = {e.key for e in events if isinstance(e, FileUploaded)}
    assert {e.key for e in slices} <= uploaded
    began, ended = (int(t * 1000) for t in survived["outage"])
    assert any(began <= e.at_ms <= ended for e in events if e.stream_id == sid), \
        "the recording wrote events while the broker was away"


def test_every_projection_equals_a_fresh_replay(survived: dict[str, Any]) -> None:
    sid, url = survived["outcome"].sid, survived["url"]
    fresh = open_event_log(url)
    try:
        stream, ends = _settled(fresh, sid, survived["runners"])
        status_runner, callback_runner = survived["runners"]
        assert status_runner.view(sid) == status.fold(stream, sid)
        assert callback_runner.view(sid) == _replayed_callbacks(stream, sid)
        delivered = [n for n in survived["notices"] if n["sid"] == sid]  # the topic is shared
        assert delivered == callbacks.notifications(stream, sid)  # each once, in order
    finally:
        fresh.close()
    for runner, group in zip(survived["runners"], survived["groups"], strict=True):
        for partition, end in enumerate(ends):
            assert runner.store.position(partition) == end
            assert group.committed(partition) == end  # committed after the views, caught up


def _settled(fresh: EventLog, sid: str,
             runners: list[ProjectionRunner]) -> tuple[list[Any], list[int]]:
    """The recording's events and the partitions' ends, read while the runners had caught up
    to exactly those ends: an uploader may still append after the recording stopped (once,
    between the runners' catch-up and the fresh read, the runner lacked one callback)."""
    deadline = time.monotonic() + 60
    while True:
        before = [end_of(fresh, p) for p in range(fresh.partitions)]
        for runner in runners:
            runner.catch_up()
        stream = fresh.read_stream(sid)
        after = [end_of(fresh, p) for p in range(fresh.partitions)]
        reached = [[runner.store.position(p) for p in range(fresh.partitions)]
                   for runner in runners]
        if (before == after and all(r == after for r in reached)) or \
                time.monotonic() > deadline:
            return stream, after
        time.sleep(0.5)


def _replayed_callbacks(stream: list[Any], sid: str) -> Any:
    state = callbacks.initial(sid)
    for event in stream:
        state, _ = callbacks.apply(state, event)
    return state


def test_the_topic_holds_plain_records_of_every_event(survived: dict[str, Any]) -> None:
    """Retries may have written a record twice; the log (and every consumer using the ce_id
    header as the idempotency key) still sees each event once."""
    records = asyncio.run(_ids_on_topic(survived["url"]))
    counts = Counter(records)
    fresh = open_event_log(survived["url"])
    try:
        assert set(counts) == {e.event_id for e in _everything(fresh)}
    finally:
        fresh.close()


async def _ids_on_topic(url: str) -> list[str]:
    address = KafkaAddress.parse(url)
    consumer = AIOKafkaConsumer(bootstrap_servers=address.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        count = await ensure_topic(address.bootstrap, address.topic)  # exists: its count
        partitions = [TopicPartition(address.topic, p) for p in range(count)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        ids: list[str] = []
        for partition in partitions:
            while await consumer.position(partition) < ends[partition]:
                got = await consumer.getmany(partition, timeout_ms=5000)
                ids += [dict(m.headers)["ce_id"].decode() for m in got.get(partition, [])]
        return ids
    finally:
        await consumer.stop()
