"""When the supervisor calls a recorder lost for not answering its pings (`children.Watch`)."""

from __future__ import annotations

from cloudrec.actors.session.children import STARTUP_TIMEOUT_S, Watch

HEARTBEAT_S = 0.8


def test_a_new_recorder_has_the_startup_timeout_to_first_answer() -> None:
    """Tried: a recorder that joined and has not answered yet, silent for 1.5 s (its first step
    decodes the channel's history since the start). Not lost; silent past the startup timeout
    it is (hung from the start)."""
    watch = Watch(last_answer=100.0)
    assert not watch.silent_too_long(101.5, HEARTBEAT_S)
    assert watch.silent_too_long(100.0 + STARTUP_TIMEOUT_S + 0.1, HEARTBEAT_S)


def test_once_it_answered_the_heartbeat_timeout_applies() -> None:
    """Tried: a recorder that has answered, then paused (SIGSTOP): lost after 0.8 s, so the
    failover still starts within a second of the pause."""
    watch = Watch(last_answer=200.0, answered=True)
    assert not watch.silent_too_long(200.7, HEARTBEAT_S)
    assert watch.silent_too_long(200.9, HEARTBEAT_S)
