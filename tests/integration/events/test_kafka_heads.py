"""Issue 16 point 2 on a real broker: a process holds the heads of the streams it serves, not the
topic's history, and a stream's head in the compacted heads topic plus a scan of what came after
it rebuild the stream exactly, even when its writer was killed before publishing its head."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from cloudrec.events import kafka
from cloudrec.events.kafka import KafkaEventLog
from cloudrec.events.log import Fenced, partition_of
from cloudrec.events.recording import RecorderLaunched
from cloudrec.events.replica import Head

from ...unit.events.contract import slice_event

pytestmark = pytest.mark.integration


def test_a_fresh_process_holds_only_the_streams_it_serves(kafka_url: str) -> None:
    writer = KafkaEventLog(kafka_url)
    try:
        for n in range(200):
            writer.append([slice_event(f"history{n}", i) for i in range(5)])
    finally:
        writer.close()
    fresh = KafkaEventLog(kafka_url)
    try:
        assert fresh.loaded_streams() == 0  # 1,000 events of history, none of it held
        assert fresh.followed_partitions() == set()  # nor does it receive any record
        for n in (3, 77, 150):
            events = fresh.read_stream(f"history{n}")
            assert [(e.index, e.version) for e in events] == [(i, i + 1) for i in range(5)]
        assert fresh.followed_partitions() == {
            fresh.partition_of(f"history{n}") for n in (3, 77, 150)}
        fresh.append([slice_event("history9", 5)])
        assert fresh.loaded_streams() == 4
        assert [e.version for e in fresh.read_stream("history9")] == [1, 2, 3, 4, 5, 6]
        # a reader of every partition gets each stored event once, and then holds the streams
        # it read (not their bodies: those stay in Kafka)
        every = [e for p in range(fresh.partitions) for _, e in fresh.read_all(0, 5000, p)]
        assert len(every) == 1001 and len({e.event_id for e in every}) == 1001
        assert fresh.loaded_streams() == 200
    finally:
        fresh.close()


WRITER = textwrap.dedent("""
    import sys, time
    from cloudrec.events import kafka
    from cloudrec.events.kafka import KafkaEventLog
    from tests.unit.events.contract import slice_event
    kafka.PUBLISH_EVERY_S = 3600.0  # never publishes the head of what it appends
    log = KafkaEventLog(sys.argv[1])
    for i in range(6):
        log.append([slice_event("victim", 2 * i), slice_event("victim", 2 * i + 1)])
    print("appended", flush=True)
    time.sleep(600)
""")


def test_a_writer_killed_before_publishing_its_head_loses_nothing(kafka_url: str) -> None:
    """The writer wrote the stream's empty head before its first append, then 6 appends, and
    was SIGKILLed: the heads topic knows nothing of them. A new process loads that head and scans
    from it: every event, the versions, the fence and the idempotency window are as stored."""
    child = subprocess.Popen([sys.executable, "-c", WRITER, kafka_url], stdout=subprocess.PIPE,
                             text=True, cwd=os.getcwd())
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "appended"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    assert published_versions(kafka_url, "victim") == [0]  # only the head made before writing
    successor = KafkaEventLog(kafka_url)
    try:
        events = successor.read_stream("victim")
        assert [(e.index, e.version) for e in events] == [(i, i + 1) for i in range(12)]
        again = successor.append([events[-1]])  # a retry of the last: not stored again
        assert [e.version for e in again] == [12]
        successor.append([RecorderLaunched(stream_id="victim", at_ms=9, generation=2,
                                           recorder_uid=2)])
        with pytest.raises(Fenced):
            successor.append([slice_event("victim", 12, generation=1)])
        assert len(successor.read_stream("victim")) == 13
    finally:
        successor.close()  # a clean close publishes the head it made
    assert published_versions(kafka_url, "victim")[-1] == 13


def test_a_forgotten_stream_is_loaded_again_where_it_was(
        kafka_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka, "FORGET_AFTER_S", 0.0)
    log, other = KafkaEventLog(kafka_url), KafkaEventLog(kafka_url)
    try:
        first = log.append([slice_event("s", 0)])
        wait_until(lambda: not log.loaded_streams())
        assert log.loaded_streams() == 0  # published, then dropped
        wait_until(lambda: not log.followed_partitions())  # and its partition let go
        other.append([slice_event("s", 1)])  # while this process does not follow "s"
        assert [e.version for e in log.append([slice_event("s", 2)])] == [3]
        assert [e.version for e in log.append(first)] == [1]  # its id is remembered
        assert [e.index for e in log.read_stream("s")] == [0, 1, 2]
    finally:
        log.close()
        other.close()


def wait_until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def published_versions(url: str, stream: str) -> list[int]:
    """The versions of every head of `stream` in the heads topic, in the order written."""
    address = kafka.KafkaAddress.parse(url)

    async def read() -> list[int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=address.bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        try:
            tp = TopicPartition(address.topic + kafka.HEADS_SUFFIX,  # as the events topic
                                partition_of(stream, address.partitions))
            consumer.assign([tp])
            end = (await consumer.end_offsets([tp]))[tp]
            await consumer.seek_to_beginning(tp)
            versions = []
            while await consumer.position(tp) < end:
                for messages in (await consumer.getmany(tp, timeout_ms=1000)).values():
                    versions += [Head.decode(stream, m.value).version for m in messages
                                 if m.key == stream.encode()]
            return versions
        finally:
            await consumer.stop()

    return asyncio.run(read())
