"""HTML for notebooks: a session card, a table of events, one event in full, a session list.

Plain strings (no pandas, no templates); every value is escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from cloudrec.events.envelope import Event
from cloudrec.projections import timeline

STYLE = "border-collapse:collapse;font-family:monospace;font-size:12px"
SHOWN_EVENTS = 12  # a session card lists its first and last events, this many each
STATE_COLOURS = {"recording": "#2a7", "stopping": "#c80", "ended": "#777", "failed": "#c22"}


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{escape(h)}</th>"
                   for h in header)
    body = "".join("<tr>" + "".join(f"<td style='padding:1px 8px'>{escape(str(v))}</td>"
                                    for v in row) + "</tr>" for row in rows)
    return f"<table style='{STYLE}'><tr>{head}</tr>{body}</table>"


def _event_row(event: Event, t0_ms: int) -> list[Any]:
    kind = getattr(event, "type", type(event).__name__)
    summary = timeline.summary(event)
    return [f"{(event.at_ms - t0_ms) / 1000:+.3f}", event.version, kind, event.generation,
            summary if len(summary) < 120 else summary[:117] + "..."]


def events_table(events: Sequence[Event], limit: int = 200) -> str:
    """One row per event: seconds since the first, version, type, generation, its fields."""
    t0 = events[0].at_ms if events else 0
    shown = list(events)
    if len(shown) > limit:
        shown = shown[: limit // 2] + shown[-limit // 2 :]
    rows = [_event_row(e, t0) for e in shown]
    note = f"<p>{len(events)} events, {len(shown)} shown</p>" if len(shown) < len(events) else ""
    return note + table(["t (s)", "ver", "type", "gen", "fields"], rows)


def event_card(event: Event) -> str:
    kind = escape(str(getattr(event, "type", type(event).__name__)))
    fields = event.model_dump()
    rows = [(name, value) for name, value in fields.items() if name != "type"]
    return f"<b>{kind}</b>" + table(["field", "value"], rows)


def _badge(state: str) -> str:
    colour = STATE_COLOURS.get(state, "#555")
    return (f"<span style='background:{colour};color:white;padding:1px 6px;"
            f"border-radius:3px'>{escape(state)}</span>")


def session_card(summary: Mapping[str, Any], events: Sequence[Event]) -> str:
    """The session's identity and counts, then its first and last events."""
    title = (f"<b>session {escape(str(summary['sid']))}</b> {_badge(str(summary['state']))} "
             f"{escape(str(summary['channel']))} ({escape(str(summary['mode']))})")
    facts = table(["", ""], [(k, v) for k, v in summary.items() if k not in ("sid", "state")])
    return f"<div>{title}{facts}{events_table(events, 2 * SHOWN_EVENTS)}</div>"


def sessions_table(summaries: Sequence[Mapping[str, Any]]) -> str:
    if not summaries:
        return "<p>no sessions</p>"
    header = list(summaries[0])
    return f"<p>{len(summaries)} sessions</p>" + table(header, [list(s.values())
                                                          for s in summaries])
