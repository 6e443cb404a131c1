"""An event log opened for reading: its sessions, filtered by app, channel, time and state.

`Log.open(url)` takes the same URLs as `cloudrec serve --events` (`sqlite:///path.db`, the
embedded log; `kafka://HOST:PORT[/TOPIC]`; `memory://`), reads every event once and keeps them
in memory: fine for a development log or a day of a fleet, not for years of one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from cloudrec.events.backends import DEFAULT_EVENTS, open_event_log
from cloudrec.events.channel import channel_id
from cloudrec.events.envelope import Event
from cloudrec.events.log import every_event
from cloudrec.events.recording import RecordingStarted
from cloudrec.inspect import html
from cloudrec.inspect.session import Moment, Session, to_ms


class Sessions(tuple[Session, ...]):
    """Sessions in start order; a table in a notebook, a DataFrame with `frame()`."""

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([s.summary for s in self])

    def _repr_html_(self) -> str:
        return html.sessions_table([s.summary for s in self])


class Log:
    def __init__(self, events: Iterable[Event], url: str = "") -> None:
        self.url = url
        self.events: tuple[Event, ...] = tuple(events)
        self.streams: dict[str, list[Event]] = defaultdict(list)
        for event in self.events:
            self.streams[event.stream_id].append(event)

    @classmethod
    def open(cls, url: str = DEFAULT_EVENTS) -> Log:
        """Read every event of the log at `url` (see the module docstring)."""
        backend = open_event_log(url)
        try:
            return cls(every_event(backend), url)
        finally:
            backend.close()

    def sessions(self, app: str | None = None, channel: str | None = None,
                 since: Moment | None = None, until: Moment | None = None,
                 state: str | None = None) -> Sessions:
        """Sessions of `app` in `channel` that overlap [since, until] and are in `state`
        ("recording", "stopping", "ended" or "failed"), in start order."""
        found = []
        for started in self._starts(app, channel):
            session = self._session(started)
            if _overlaps(session, since, until) and state in (None, session.state):
                found.append(session)
        return Sessions(found)

    def session(self, sid: str | None = None) -> Session:
        """The session `sid`, or the one started last."""
        starts = [s for s in self._starts(None, None) if sid in (None, s.stream_id)]
        if not starts:
            raise KeyError(f"no session {sid!r} in {self.url or 'the log'}")
        return self._session(starts[-1])

    def _starts(self, app: str | None, channel: str | None) -> list[RecordingStarted]:
        return [e for e in self.events if isinstance(e, RecordingStarted)
                and app in (None, e.appid) and channel in (None, e.cname)]

    def _session(self, started: RecordingStarted) -> Session:
        events = self.streams[started.stream_id]
        channel = self.streams.get(channel_id(started.appid, started.cname), [])
        end = max(e.at_ms for e in events)
        return Session(events, [e for e in channel if e.at_ms <= end])

    def __repr__(self) -> str:
        sessions = len(self._starts(None, None))
        return f"Log({self.url!r}: {len(self.events)} events, {sessions} sessions)"

    def _repr_html_(self) -> str:
        title = f"<p><b>{self.url or 'event log'}</b>: {len(self.events)} events</p>"
        return title + self.sessions()._repr_html_()


def _overlaps(session: Session, since: Moment | None, until: Moment | None) -> bool:
    return ((since is None or session.ended_ms >= to_ms(since))
            and (until is None or session.started_ms <= to_ms(until)))


def concat(frames: Sequence[pd.DataFrame], keys: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Rows of several sessions' tables in one, each row labelled with its session's keys."""
    labelled = [frame.assign(**key) for frame, key in zip(frames, keys, strict=True)
                if not frame.empty]
    return pd.concat(labelled, ignore_index=True) if labelled else pd.DataFrame()
