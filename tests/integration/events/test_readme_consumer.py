"""The README's plain-aiokafka consumer, executed as written against cloudrec's records: it
needs nothing from cloudrec but the JSON Schema, and it reads the log's events exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from cloudrec.events.catalog import json_schema
from cloudrec.events.kafka import KafkaAddress, KafkaEventLog
from cloudrec.events.log import Fenced, every_event
from cloudrec.events.recording import RecorderLaunched

from ...unit.events.contract import slice_event

pytestmark = pytest.mark.integration
README = Path(__file__).resolve().parents[3] / "README.md"


def readme_consumer() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    (block,) = [b for b in blocks if "AIOKafkaConsumer" in b]
    assert not re.search(r"^\s*(import|from) cloudrec", block, re.M)
    return block


def test_the_readme_consumer_reads_every_event_once(kafka_url: str, tmp_path: Path) -> None:
    """What is tried: a topic of cloudrec's default partition count, a zombie's refused append,
    and streams in several partitions; the consumer prints each stream's events once, in order."""
    log = KafkaEventLog(kafka_url)
    log.append([slice_event("s", 0, generation=1)])
    log.append([RecorderLaunched(stream_id="s", at_ms=2, generation=2, recorder_uid=5)])
    with pytest.raises(Fenced):
        log.append([slice_event("s", 1, generation=1)])  # refused up front: never on the topic
    log.append([slice_event("s", 2, generation=2)])
    for stream in ("t", "u", "v", "w"):
        log.append([slice_event(stream, 0)])
        log.append([slice_event(stream, 1)])
    expected = list(every_event(log))
    assert log.partitions > 1 and len({log.partition_of(e.stream_id) for e in expected}) > 1
    log.close()
    schema = tmp_path / "events.schema.json"
    schema.write_text(json.dumps(json_schema()))
    namespace: dict[str, object] = {}
    exec(compile(readme_consumer(), "README.md", "exec"), namespace)
    address, out = KafkaAddress.parse(kafka_url), io.StringIO()
    with contextlib.redirect_stdout(out):
        asyncio.run(asyncio.wait_for(namespace["consume"](  # type: ignore[operator]
            address.bootstrap, address.topic, str(schema), limit=len(expected)), 60))
    printed = [line.split()[:2] for line in out.getvalue().splitlines()]
    for stream in ("s", "t", "u", "v", "w"):  # partitions interleave; each stream in order
        assert [kind for key, kind in printed if key == stream] == [
            f"io.cloudrec.{e.type}.v1" for e in expected  # type: ignore[attr-defined]
            if e.stream_id == stream]
    assert len(printed) == len(expected)
