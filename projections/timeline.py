"""One row per event, for notebooks: when, which version, what, which generation, and a summary.

Unlike the other projections the timeline keeps fenced events too (marked), because seeing a zombie
write is the point of inspecting a failover.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from cloudrec.events.envelope import Event
from cloudrec.events.recording import RecorderLaunched
from cloudrec.projections.fence import is_fenced

ENVELOPE = frozenset(
    {"stream_id", "at_ms", "version", "generation", "event_id", "schema_version", "type", "config"}
)


@dataclass(frozen=True)
class Row:
    at_ms: int
    version: int
    type: str
    generation: int
    summary: str
    fenced: bool = False


@dataclass(frozen=True)
class Timeline:
    rows: tuple[Row, ...] = ()
    generation: int = 0


def initial(sid: str = "") -> Timeline:
    return Timeline()


def apply(view: Timeline, event: Event) -> Timeline:
    fenced = is_fenced(view.generation, event)
    generation = view.generation
    if isinstance(event, RecorderLaunched) and not fenced:
        generation = max(generation, event.generation)
    return Timeline((*view.rows, _row(event, fenced)), generation)


def fold(events: Iterable[Event]) -> Timeline:
    view = initial()
    for event in events:
        view = apply(view, event)
    return view


def records(view: Timeline) -> list[dict[str, Any]]:
    """Rows as dicts (`pandas.DataFrame(records(view))`)."""
    return [asdict(row) for row in view.rows]


def _row(event: Event, fenced: bool) -> Row:
    kind = str(getattr(event, "type", type(event).__name__))
    return Row(event.at_ms, event.version, kind, event.generation, summary(event), fenced)


def summary(event: Event) -> str:
    """The event's own fields (no envelope, no start config), `name=value` comma-separated."""
    fields = event.model_dump(exclude=set(ENVELOPE))
    return ", ".join(f"{name}={value}" for name, value in fields.items())
