"""Webhook configuration: flags, environment, a settings file re-read on change, retry policy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cloudrec.webhooks.config import (
    Webhook,
    WebhookSettings,
    parse_flag,
    public_url,
    seconds,
)


def test_a_flag_with_every_option() -> None:
    hook = parse_flag("app1=https://user:pw@hooks.example/cb?token=t,secret=s3cr3t,"
                      "events=40+41+11,retry=on,retry-for=24h,backoff-max=1m,timeout=5s")

    assert hook == Webhook("app1", "https://user:pw@hooks.example/cb?token=t", "s3cr3t",
                           frozenset({40, 41, 11}), True, 86400.0, 60.0, 5.0)
    assert hook.wants(41) and not hook.wants(43)


def test_defaults_follow_the_spec() -> None:
    hook = parse_flag("app1=http://127.0.0.1:9/cb")

    assert (hook.secret, hook.event_types, hook.retry, hook.timeout_s) == ("", frozenset(),
                                                                            True, 10.0)
    assert hook.wants(1) and hook.wants(44)


def test_secret_and_credentials_stay_out_of_reprs() -> None:
    hook = parse_flag("app1=https://user:pw@hooks.example/cb?token=tok,secret=s3cr3t")
    settings = WebhookSettings({"app1": hook})

    for text in (repr(hook), str(hook), repr(settings), hook.target):
        assert "s3cr3t" not in text and "pw" not in text and "tok" not in text
    assert hook.target == "https://hooks.example/cb"
    assert public_url("http://a:b@127.0.0.1:8080/x?y=z") == "http://127.0.0.1:8080/x"


@pytest.mark.parametrize("flag", ["app1", "=http://x/", "app1=ftp://x/", "app1=http://x/,color=red",
                                  "app1=http://x/,retry=maybe", "app1=http://x/,secret"])
def test_bad_flags_are_refused(flag: str) -> None:
    with pytest.raises(ValueError):
        parse_flag(flag)


def test_durations() -> None:
    assert [seconds(t) for t in ("90", "90s", "1.5m", "2h", "250ms", "1d", 7)] == [
        90.0, 90.0, 90.0, 7200.0, 0.25, 86400.0, 7.0]
    with pytest.raises(ValueError):
        seconds("soon")


def test_environment_entries_and_flags() -> None:
    env = {"CLOUDREC_WEBHOOKS": "a=http://127.0.0.1:1/a,secret=x;b=http://127.0.0.1:1/b"}

    settings = WebhookSettings.from_options(["b=http://127.0.0.1:2/b2"], environ=env)

    assert settings.get("a").secret == "x"  # type: ignore[union-attr]
    assert settings.get("b").url == "http://127.0.0.1:2/b2"  # type: ignore[union-attr]
    assert settings.wants("a", 40) and not settings.wants("c", 40)
    assert not WebhookSettings.from_options([], environ={})


def write(path: Path, text: str, stamp: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(stamp, stamp))  # a distinct mtime, however fast the test runs


def test_the_settings_file_is_re_read_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "webhooks.json"
    fixed = {"a": parse_flag("a=http://127.0.0.1:1/flag")}
    write(path, '{"b": {"url": "http://127.0.0.1:1/b", "secret": "s", "events": [40]}}', 10**18)
    settings = WebhookSettings(fixed, path)
    assert settings.wants("b", 40) and not settings.wants("b", 41) and settings.get("a")

    write(path, '{"a": {"url": "http://127.0.0.1:1/file", "retry": false, "retry_for": "2h"}}',
          2 * 10**18)
    assert settings.refresh()
    assert settings.get("b") is None
    assert settings.get("a") == Webhook("a", "http://127.0.0.1:1/file", retry=False,
                                        retry_for_s=7200.0)  # the file overrides the flag
    assert not settings.refresh()  # unchanged


def test_a_broken_file_keeps_the_previous_webhooks(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "webhooks.json"
    write(path, '{"b": {"url": "http://127.0.0.1:1/b", "secret": "topsecret"}}', 10**18)
    settings = WebhookSettings({}, path)

    write(path, '{"b": {"url": "http://127.0.0.1:1/b", "secret": "topsecret"', 2 * 10**18)
    assert not settings.refresh()
    assert settings.get("b") is not None
    path.unlink()
    assert settings.refresh() and settings.get("b") is None  # removed: no webhooks
    assert "topsecret" not in caplog.text


def test_retry_policy_immediate_then_exponential_capped() -> None:
    hook = Webhook("a", "http://127.0.0.1:1/", backoff_max_s=3.0, retry_for_s=60.0)

    delays = [hook.next_delay(n, 1000, 1000) for n in range(1, 7)]

    assert delays == [0.0, 0.5, 1.0, 2.0, 3.0, 3.0]


def test_retry_policy_gives_up_after_the_window_but_not_before_three_attempts() -> None:
    hook = Webhook("a", "http://127.0.0.1:1/", retry_for_s=10.0)
    late = 1000 + 10_000

    assert hook.next_delay(2, 1000, late) == 0.5  # the spec's 3 attempts come first
    assert hook.next_delay(3, 1000, late) is None
    assert hook.next_delay(3, 1000, late - 1) is not None
    assert Webhook("a", "http://127.0.0.1:1/", retry=False).next_delay(1, 0, 0) is None


def test_runtime_settings_do_not_show_webhook_secrets() -> None:
    from cloudrec.runtime import RuntimeSettings

    settings = RuntimeSettings(webhooks=("app1=http://127.0.0.1:1/,secret=s3cr3t",))

    assert "s3cr3t" not in repr(settings)
    assert settings.webhook_settings().get("app1").secret == "s3cr3t"  # type: ignore[union-attr]
