"""`Log`: sessions of a log, found by app, channel, time and state."""

from __future__ import annotations

import pytest

from cloudrec.inspect import Log

from .recorded import MIX_SID, SOLO_SID, T0_MS, Recorded


@pytest.fixture(scope="module")
def log(recorded: Recorded) -> Log:
    return Log.open(recorded.url)


def sids(sessions) -> list[str]:
    return [s.sid for s in sessions]


def test_sessions_are_listed_in_start_order(log: Log) -> None:
    assert sids(log.sessions()) == [MIX_SID, SOLO_SID]
    assert log.session().sid == SOLO_SID  # the latest
    assert "2 sessions" in repr(log)


def test_sessions_filter_by_app_channel_time_and_state(log: Log) -> None:
    assert sids(log.sessions(app="app1", channel="room42")) == [MIX_SID]
    assert sids(log.sessions(app="other")) == []
    assert sids(log.sessions(since=T0_MS + 6_000)) == [SOLO_SID]
    assert sids(log.sessions(until="2027-01-15 08:00:05")) == [MIX_SID]
    assert sids(log.sessions(state="ended")) == [MIX_SID, SOLO_SID]
    assert sids(log.sessions(state="recording")) == []


def test_an_unknown_session_is_a_key_error(log: Log) -> None:
    with pytest.raises(KeyError):
        log.session("nope")


def test_sessions_show_as_a_table(log: Log) -> None:
    frame = log.sessions().frame()
    assert list(frame.channel) == ["room42", "solo"]
    assert list(frame.failovers) == [1, 0]
    html = log._repr_html_()
    assert "2 sessions" in html and "room42" in html and "individual" in html


def test_a_session_gets_its_channel_events(log: Log) -> None:
    presence = log.session(MIX_SID).presence()
    assert list(presence.uid) == ["1", "2"]
    assert list(presence.to_s) == [5.5, 4.0]  # user 2 left at 4 s; user 1 stayed to the end
