"""A whole recorded session stored on Kafka in the events' older shapes is read by today's code
(issue 16, schema evolution), Kafka half (the embedded half: tests/unit/events/
test_old_shapes.py, which shares the session and the checks through `old_shapes`).

What is tried: a fresh one-partition topic (the log's own topic configs) gets the session's
records as an older cloudrec would have produced them: in the log's order, one batch per record,
key = stream id, body = the event in its type's first shape, CloudEvents headers naming that
version (`ce_type` ...`.v1`). Today's `KafkaEventLog` then reads the topic. What is checked:
every event reads back equal to the original with the added fields at their defaults; the
status, callbacks and recovery views fold the same; and the README's plain consumer, given the
published schema, validates and prints every record once.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cloudrec.events.catalog import json_schema
from cloudrec.events.envelope import Event
from cloudrec.events.kafka import EVENTS_TOPIC_CONFIG, KafkaEventLog, headers_of

from ...unit.events import old_shapes
from .test_readme_consumer import readme_consumer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stored(kafka_bootstrap: str,
           tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Event], str]:
    """The session's events as written today, and a fresh topic holding them in old shapes."""
    today, _ = old_shapes.record(tmp_path_factory.mktemp("old-kafka"))
    topic = f"old-shapes-{uuid.uuid4().hex[:12]}"
    asyncio.run(asyncio.wait_for(_produce(kafka_bootstrap, topic, today), 120))
    return today, topic


async def _produce(bootstrap: str, topic: str, events: list[Event]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(
            topic, num_partitions=1, replication_factor=1, topic_configs=EVENTS_TOPIC_CONFIG)])
    finally:
        await admin.close()
    assert [code for _, code, *_ in response.topic_errors] == [0]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for event in events:
            as_stored = event.model_copy(
                update={"schema_version": old_shapes.first_version(event)})
            await producer.send_and_wait(topic, old_shapes.old_body(event),
                                         key=event.stream_id.encode(),
                                         headers=headers_of(as_stored, f"{uuid.uuid4().hex}:1"))
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
def log(stored: tuple[list[Event], str], kafka_bootstrap: str) -> Iterator[KafkaEventLog]:
    opened = KafkaEventLog(f"kafka://{kafka_bootstrap}/{stored[1]}")
    try:
        yield opened
    finally:
        opened.close()


def test_todays_kafka_log_reads_every_old_event(stored, log: KafkaEventLog) -> None:
    today, _ = stored
    assert any(old_shapes.first_version(e) < e.schema_version for e in today)
    old_shapes.assert_reads_as_today([e for _, e in log.read_all(0, 1_000_000)], today)


@pytest.mark.parametrize("sid", old_shapes.SIDS)
def test_the_views_fold_the_same_from_the_old_shapes(stored, log: KafkaEventLog,
                                                     sid: str) -> None:
    old_shapes.assert_folds_the_same(log.read_stream(sid), stored[0], sid)


def test_the_readme_consumer_validates_every_old_record(stored, kafka_bootstrap: str,
                                                        tmp_path: Path) -> None:
    today, topic = stored
    schema = tmp_path / "events.schema.json"
    schema.write_text(json.dumps(json_schema()))  # what `cloudrec events schema` prints
    namespace: dict[str, object] = {}
    exec(compile(readme_consumer(), "README.md", "exec"), namespace)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        asyncio.run(asyncio.wait_for(namespace["consume"](  # type: ignore[operator]
            kafka_bootstrap, topic, str(schema), group=f"old-{topic}", limit=len(today)), 120))
    printed = [line.split()[:2] for line in out.getvalue().splitlines()]
    assert printed == [[e.stream_id, f"io.cloudrec.{e.type}.v{old_shapes.first_version(e)}"]
                       for e in today]  # type: ignore[attr-defined]
