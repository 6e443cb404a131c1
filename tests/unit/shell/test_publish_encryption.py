"""`cloudrec publish --encryption-mode N --secret S [--salt B64]`: a missing or malformed key
is refused (exit 2, naming the option) before anything connects."""

from __future__ import annotations

import base64

import pytest

from cloudrec.cli import main

BASE = ["publish", "--app", "a" * 32, "--channel", "room", "--uid", "7", "--synthetic",
        "--ray-address", "127.0.0.1:1"]


@pytest.mark.parametrize("flags", [
    ["--encryption-mode", "5"],
    ["--encryption-mode", "6", "--secret", ""],
    ["--encryption-mode", "7", "--secret", "s"],
    ["--encryption-mode", "8", "--secret", "s", "--salt", base64.b64encode(bytes(16)).decode()],
    ["--encryption-mode", "8", "--secret", "s", "--salt", "not base64!"],
], ids=["no secret", "empty secret", "GCM2 without salt", "short salt", "bad salt"])
def test_a_bad_key_is_exit_2_before_connecting(flags, capsys, monkeypatch):
    monkeypatch.delenv("CLOUDREC_MEDIA_SECRET", raising=False)
    assert main(BASE + flags) == 2
    assert "--encryption-mode" in capsys.readouterr().err


def test_a_mode_outside_1_to_8_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        main(BASE + ["--encryption-mode", "9", "--secret", "s"])
    assert exited.value.code == 2
