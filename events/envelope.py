"""The envelope every event carries, and the CloudEvents headers derived from it.

Events are frozen pydantic models named in the past tense. The envelope is the same for all:
`stream_id` (a recording's sid, or a channel's id), `version` (position within that stream, given by
the log at append time; 0 before), `at_ms` (channel clock, UTC milliseconds), `generation` (the
recorder generation that wrote it; 0 for the supervisor/API) and `event_id` (idempotency key).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

SOURCE = "cloudrec"


def new_event_id() -> str:
    """A UUID version 7 (RFC 9562) in hex: 48 bits of Unix milliseconds, then 74 random bits.
    Ids made later sort later, so a log's index of event ids grows at its end: random (version
    4) ids put every append on a random page of that index, and the embedded log took a third
    fewer appends/s on a log of 300,000 events than on a new one."""
    random = int.from_bytes(os.urandom(10), "big")
    value = ((time.time_ns() // 1_000_000) << 80 | 0x7 << 76 | (random >> 68) << 64
             | 0b10 << 62 | random & ((1 << 62) - 1))
    return f"{value:032x}"


class Event(BaseModel):
    """Base of every cloudrec event; subclasses add a Literal `type` and their payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stream_id: str
    at_ms: int
    version: int = 0
    generation: int = 0
    event_id: str = Field(default_factory=new_event_id)
    schema_version: int = 1

    def stamped(self, version: int) -> Event:
        """The same event with the version the log assigned to it."""
        return self.model_copy(update={"version": version})


def cloud_event_headers(event: Event) -> list[tuple[str, bytes]]:
    """CloudEvents Kafka-binding headers (binary mode) for one event, as Kafka takes them.
    Every event sent to Kafka pays for them, so the parts shared by many events (source, type,
    the second of the time) are made once."""
    return [
        SPEC_VERSION,
        ("ce_id", event.event_id.encode()),
        ("ce_source", _source(event.stream_id)),
        ("ce_type", _type(getattr(event, "type", "Event"), event.schema_version)),
        ("ce_time", rfc3339(event.at_ms).encode()),
        CONTENT_TYPE,
    ]


SPEC_VERSION = ("ce_specversion", b"1.0")
CONTENT_TYPE = ("content-type", b"application/json")


@lru_cache(maxsize=4096)
def _source(stream_id: str) -> bytes:
    return f"{SOURCE}/{stream_id}".encode()


@lru_cache(maxsize=256)
def _type(name: str, schema_version: int) -> bytes:
    return f"io.cloudrec.{name}.v{schema_version}".encode()


def rfc3339(at_ms: int) -> str:
    """UTC time of `at_ms` as `datetime.isoformat` writes it, with a Z (microseconds shown
    when not zero)."""
    seconds, ms = divmod(at_ms, 1000)
    return f"{_utc_second(seconds)}.{ms:03d}000Z" if ms else f"{_utc_second(seconds)}Z"


@lru_cache(maxsize=1024)
def _utc_second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
