"""Many sessions at once: states over time, failovers, errors and warnings, channels, callbacks.

Each function takes a `Log` (or the `Sessions` of a filter) and returns a DataFrame; rows of
per-session tables are labelled with their session's `sid` and `channel`.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from cloudrec.events.callback import CallbackDelivered
from cloudrec.events.recording import SessionExited, StopRequested
from cloudrec.inspect.log import Log, concat
from cloudrec.inspect.session import Session

STATES = ("recording", "stopping", "ended")
ERROR, WARNING = 1, 2


def _sessions(source: Log | Iterable[Session]) -> list[Session]:
    return list(source.sessions() if isinstance(source, Log) else source)


def _keys(session: Session) -> dict[str, str]:
    return {"sid": session.sid, "channel": session.cname}


def states_over_time(source: Log | Iterable[Session], points: int = 200) -> pd.DataFrame:
    """How many sessions were recording, stopping and ended at each of `points` moments."""
    changes = [_changes(s) for s in _sessions(source)]
    if not changes:
        return pd.DataFrame(columns=list(STATES))
    first = min(c[0] for c in changes)
    last = max(c[2] or c[1] or c[0] for c in changes)
    grid = [first + (last - first) * i // max(1, points - 1) for i in range(points)]
    rows = [{state: sum(_state(c, at) == state for c in changes) for state in STATES}
            for at in grid]
    return pd.DataFrame(rows, index=pd.to_datetime(grid, unit="ms", utc=True))


def _changes(session: Session) -> tuple[int, int | None, int | None]:
    stop = next((e.at_ms for e in session.events if isinstance(e, StopRequested)), None)
    exit_ = next((e.at_ms for e in session.events if isinstance(e, SessionExited)), None)
    return session.started_ms, stop, exit_


def _state(changes: tuple[int, int | None, int | None], at: int) -> str | None:
    started, stop, exit_ = changes
    if at < started:
        return None
    if exit_ is not None and at >= exit_:
        return "ended"
    return "stopping" if stop is not None and at >= stop else "recording"


def failovers(source: Log | Iterable[Session]) -> pd.DataFrame:
    sessions = _sessions(source)
    return concat([s.failovers() for s in sessions], [_keys(s) for s in sessions])


def problems(source: Log | Iterable[Session]) -> pd.DataFrame:
    """Every error (eventType 1) and warning (2) callback, with its module and code."""
    rows = []
    for session in _sessions(source):
        for notice in session.notifications():
            if notice["eventType"] in (ERROR, WARNING):
                details = notice["payload"]["details"]
                rows.append({**_keys(session), "at_ms": notice["notifyMs"],
                             "kind": "error" if notice["eventType"] == ERROR else "warning",
                             "module": details.get("module"),
                             "code": details.get("errorCode", details.get("warnCode"))})
    return pd.DataFrame(rows, columns=["sid", "channel", "at_ms", "kind", "module", "code"])


def problem_counts(source: Log | Iterable[Session]) -> pd.Series:
    """How many errors and warnings of each code ("warning 101", "error 2", ...)."""
    found = problems(source)
    labels = found["kind"] + " " + found["code"].astype(str)
    return labels.value_counts()


def top_channels(source: Log | Iterable[Session], n: int = 10) -> pd.DataFrame:
    """Channels by number of sessions, with their recorded seconds and failovers."""
    frame = pd.DataFrame([s.summary for s in _sessions(source)])
    if frame.empty:
        return pd.DataFrame(columns=["sessions", "duration_s", "failovers"])
    grouped = frame.groupby("channel").agg(sessions=("sid", "count"),
                                           duration_s=("duration_s", "sum"),
                                           failovers=("failovers", "sum"))
    return grouped.sort_values(["sessions", "duration_s"], ascending=False).head(n)


def callback_lag(source: Log | Iterable[Session]) -> pd.DataFrame:
    """Each callback the webhook deliverer got a 2xx for: how long after its event, which try."""
    rows = [{**_keys(s), "event_type": e.event_type, "attempt": e.attempt,
             "latency_ms": e.latency_ms, "http_status": e.http_status}
            for s in _sessions(source) for e in s.events if isinstance(e, CallbackDelivered)]
    return pd.DataFrame(rows, columns=["sid", "channel", "event_type", "attempt", "latency_ms",
                                       "http_status"])


def uploads(source: Log | Iterable[Session]) -> pd.DataFrame:
    sessions = _sessions(source)
    return concat([s.uploads() for s in sessions], [_keys(s) for s in sessions])


def slices(source: Log | Iterable[Session]) -> pd.DataFrame:
    sessions = _sessions(source)
    return concat([s.slices() for s in sessions], [_keys(s) for s in sessions])
