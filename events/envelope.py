"""The envelope every event carries, and the CloudEvents headers derived from it.

Events are frozen pydantic models named in the past tense. The envelope is the same for all:
`stream_id` (a recording's sid, or a channel's id), `version` (position within that stream, given by
the log at append time; 0 before), `at_ms` (channel clock, UTC milliseconds), `generation` (the
recorder generation that wrote it; 0 for the supervisor/API) and `event_id` (idempotency key).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

SOURCE = "cloudrec"


def new_event_id() -> str:
    return uuid.uuid4().hex


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


def cloud_event_headers(event: Event) -> dict[str, str]:
    """CloudEvents Kafka-binding headers (binary mode) for one event."""
    at = datetime.fromtimestamp(event.at_ms / 1000, tz=UTC)
    return {
        "ce_specversion": "1.0",
        "ce_id": event.event_id,
        "ce_source": f"{SOURCE}/{event.stream_id}",
        "ce_type": f"io.cloudrec.{getattr(event, 'type', 'Event')}.v{event.schema_version}",
        "ce_time": at.isoformat().replace("+00:00", "Z"),
        "content-type": "application/json",
    }
