"""Decryption keys and the supervisor: every recorder generation gets the session's key, the
log never holds it, a restarted controller finds it in the session's key file (0600), and the
file goes when the session ends."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

from cloudrec.actors.channel.encryption import MediaKey
from cloudrec.actors.session import keys
from cloudrec.events.catalog import encode

from .test_supervisor import begin, config, make, started

KEY = MediaKey(8, "hush-hush-secret", b"salt-salt-salt-salt-salt-salt-32")


def start_encrypted(supervisor, tmp_path: Path, sid: str = "s1"):  # type: ignore[no-untyped-def]
    c = replace(config(sid, workdir=tmp_path), decryption_mode=8, media_key=KEY)
    supervisor.start(c, started(c))
    return c


def test_every_generation_gets_the_key_and_the_log_never_does(tmp_path: Path) -> None:
    supervisor, children, log = make()
    c = start_encrypted(supervisor, tmp_path)
    children.dead.add("recorder:s1:1")
    supervisor.update()

    assert [(g.generation, g.media_key) for g in children.configs] == [(1, KEY), (2, KEY)]
    text = b"".join(encode(e) for e in log.read_stream("s1"))
    assert KEY.secret.encode() not in text and KEY.salt not in text
    assert b'"decryption_mode":8' in text
    mode = stat.S_IMODE(keys.key_file(c).stat().st_mode)
    assert mode == 0o600 and stat.S_IMODE(keys.key_file(c).parent.stat().st_mode) == 0o700


def test_a_restarted_controller_hands_the_key_on_from_its_file(tmp_path: Path) -> None:
    first, _, log = make()
    start_encrypted(first, tmp_path)

    again, children, _ = make(log)
    again.recover()

    assert [(c.generation, c.decryption_mode, c.media_key) for c in children.configs] == [
        (2, 8, KEY)]


def test_without_its_file_the_key_is_lost_not_invented(tmp_path: Path) -> None:
    first, _, log = make()
    c = start_encrypted(first, tmp_path)
    keys.key_file(c).unlink()

    again, children, _ = make(log)
    again.recover()

    assert [(c.decryption_mode, c.media_key) for c in children.configs] == [(8, None)]


def test_the_key_file_goes_when_the_session_ends_and_clear_media_has_none(
        tmp_path: Path) -> None:
    supervisor, _, _ = make()
    c = start_encrypted(supervisor, tmp_path)
    clear = begin(supervisor, "s2", uid=10, workdir=tmp_path)
    supervisor.stop("s1")
    supervisor.stop("s2")
    assert not keys.key_file(c).exists() and not keys.key_file(clear).exists()
