"""One recording session (sid) read from the log: its events, its views, its tables.

Everything is a projection of the events, computed when asked: `query(at=...)` folds the status
projection over the events up to that moment (the `query` answer as it was then), `callbacks()`
the notifications the callback projection gives, the other tables come from `tables`.
Every DataFrame carries UTC millisecond columns and `t_s`, seconds since the session started.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from typing import Any

import pandas as pd

from cloudrec.events.callback import CallbackDelivered, CallbackEvent
from cloudrec.events.envelope import Event
from cloudrec.events.recording import RecorderLaunched, RecordingStarted
from cloudrec.inspect import html, tables
from cloudrec.projections import callbacks, status, timeline

Moment = int | float | datetime | str | pd.Timestamp  # UTC ms, or anything pandas reads as time


def to_ms(moment: Moment) -> int:
    """UTC milliseconds of a moment: an int/float is taken as UTC ms already."""
    if isinstance(moment, int | float):
        return int(moment)
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    return int(stamp.value // 1_000_000)


class Events(tuple[Event, ...]):
    """A session's events; shown in a notebook as a table (`card(n)` shows one in full)."""

    def card(self, index: int) -> EventCard:
        return EventCard(self[index])

    def _repr_html_(self) -> str:
        return html.events_table(self)


class EventCard:
    """One event, shown in a notebook with every field."""

    def __init__(self, event: Event) -> None:
        self.event = event

    def _repr_html_(self) -> str:
        return html.event_card(self.event)


class Session:
    def __init__(self, events: Sequence[Event], channel_events: Sequence[Event] = ()) -> None:
        started = next((e for e in events if isinstance(e, RecordingStarted)), None)
        if started is None:
            raise ValueError("a session's events begin with RecordingStarted")
        self.start: RecordingStarted = started
        self.events = Events(events)
        self.channel_events = tuple(channel_events)

    @property
    def sid(self) -> str:
        return self.start.stream_id

    @property
    def appid(self) -> str:
        return self.start.appid

    @property
    def cname(self) -> str:
        return self.start.cname

    @property
    def mode(self) -> str:
        return self.start.mode

    @property
    def started_ms(self) -> int:
        return self.start.at_ms

    @property
    def ended_ms(self) -> int:
        """The last event's time (the session's end once it exited)."""
        return max(e.at_ms for e in self.events)

    @property
    def state(self) -> str:
        return state_of(self.query())

    @property
    def generations(self) -> int:
        return max((e.generation for e in self.events if isinstance(e, RecorderLaunched)),
                   default=0)

    # -- views -------------------------------------------------------------------------------
    def query(self, at: Moment | None = None, version: int | None = None) -> status.StatusView:
        """The status projection as it was at `at` (UTC ms or a time) or after event `version`."""
        return status.fold(self.until(at, version), self.sid)

    def answer(self, at: Moment | None = None) -> dict[str, Any]:
        """The `query` API's `serverResponse` as it would have been at `at`."""
        return status.server_response(self.query(at))

    def until(self, at: Moment | None = None, version: int | None = None) -> list[Event]:
        at_ms = to_ms(at) if at is not None else None
        return [e for e in self.events if (at_ms is None or e.at_ms <= at_ms)
                and (version is None or e.version <= version)]

    def notifications(self) -> list[dict[str, Any]]:
        return callbacks.notifications(self.events, self.sid)

    # -- tables ------------------------------------------------------------------------------
    def timeline(self) -> pd.DataFrame:
        return self._frame(timeline.records(timeline.fold(self.events)), ["at_ms"])

    def callbacks(self) -> pd.DataFrame:
        """Every notification in order, with its delivery to the webhook when there was one."""
        delivered = {e.notice_id: e for e in self.events if isinstance(e, CallbackDelivered)}
        attempts = _attempts(self.events)
        rows = [_notice_row(n, delivered.get(n["noticeId"]), attempts.get(n["noticeId"], 0))
                for n in self.notifications()]
        return self._frame(rows, ["at_ms"])

    def slices(self) -> pd.DataFrame:
        return self._frame(tables.slices(self.events),
                           ["start_ms", "end_ms", "written_ms", "uploaded_ms"])

    def uploads(self) -> pd.DataFrame:
        return self._frame(tables.uploads(self.events), ["written_ms", "done_ms"])

    def layouts(self) -> pd.DataFrame:
        return self._frame(tables.layouts(self.events), ["at_ms"])

    def failovers(self) -> pd.DataFrame:
        return self._frame(tables.failovers(self.events),
                           ["failed_ms", "launched_ms", "cut_ms", "resumed_ms"])

    def recorders(self) -> pd.DataFrame:
        """One row per recorder generation (see `tables.generations`)."""
        return self._frame(tables.generations(self.events), ["launched_ms", "until_ms"])

    def gaps(self) -> pd.DataFrame:
        return self._frame(tables.gaps(self.events), ["from_ms", "to_ms"])

    def streams(self) -> pd.DataFrame:
        """When each user's audio and video was recorded (uid "0": the composite itself)."""
        return self._frame(tables.streams(self.events, self.ended_ms), ["from_ms", "to_ms"])

    def presence(self) -> pd.DataFrame:
        """When each user was in the channel, within the session."""
        rows = tables.presence(self.channel_events, self.ended_ms)
        for row in rows:
            row["from_ms"] = max(row["from_ms"], self.started_ms)
        return self._frame([r for r in rows if r["to_ms"] >= self.started_ms],
                           ["from_ms", "to_ms"])

    def _frame(self, rows: list[dict[str, Any]], times: list[str]) -> pd.DataFrame:
        frame = pd.DataFrame(rows)
        for column in times:
            if column in frame:
                frame[column.removesuffix("_ms") + "_s"] = (frame[column] - self.started_ms) / 1000
        if "at_ms" in frame:
            frame.insert(0, "time", pd.to_datetime(frame["at_ms"], unit="ms", utc=True))
        return frame

    # -- display -----------------------------------------------------------------------------
    @cached_property
    def summary(self) -> dict[str, Any]:
        view = self.query()
        return {"sid": self.sid, "app": self.appid, "channel": self.cname, "mode": self.mode,
                "state": state_of(view), "status": view.status,
                "started": pd.Timestamp(self.started_ms, unit="ms", tz="UTC"),
                "duration_s": (self.ended_ms - self.started_ms) / 1000,
                "events": len(self.events), "generations": self.generations,
                "slices": len(tables.slices(self.events)),
                "failovers": len(tables.failovers(self.events)),
                "uploading": view.uploading_status}

    def __repr__(self) -> str:
        s = self.summary
        return (f"Session({s['sid']}, {s['channel']}, {s['mode']}, {s['state']}, "
                f"{s['events']} events)")

    def _repr_html_(self) -> str:
        return html.session_card(self.summary, self.events)


def state_of(view: status.StatusView) -> str:
    if view.status == status.FAILED:
        return "failed"
    return "ended" if view.ended else "stopping" if view.stopped else "recording"


def _attempts(events: Sequence[Event]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in events:
        if isinstance(e, CallbackEvent):
            counts[e.notice_id] = counts.get(e.notice_id, 0) + 1
    return counts


def _notice_row(notice: dict[str, Any], delivered: CallbackDelivered | None,
                attempts: int) -> dict[str, Any]:
    details = dict(notice["payload"]["details"])
    return {"sequence": notice["payload"]["sequence"], "at_ms": notice["notifyMs"],
            "event_type": notice["eventType"], "msg_name": details.pop("msgName"),
            "details": details, "notice_id": notice["noticeId"], "attempts": attempts,
            "delivered": delivered is not None,
            "latency_ms": delivered.latency_ms if delivered else None}
