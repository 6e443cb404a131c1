"""Which app's callbacks go where: one webhook per app id, from flags and a settings file.

A flag (or an entry of CLOUDREC_WEBHOOKS, `;`-separated) reads `APPID=URL[,option=value...]`:

    secret=S           the HMAC key of the signature headers (spec §15.2)
    events=40+41+11    only these eventTypes (default: every type)
    retry=on|off       off: one attempt per notification (default on)
    retry-for=24h      keep retrying this long after the first failed attempt (default 1h; the
                       spec's 3 attempts are always made when retry is on)
    backoff-max=30s    longest wait between two attempts (default 30s)
    timeout=10s        the receiver's time to answer (default 10s, as NCS)
    connections=8      requests in flight to this webhook at most (default 8)

The settings file is JSON, `{"APPID": {"url": ..., "secret": ..., "events": [40, 41],
"retry": true, "retry_for": "24h", "backoff_max": "30s", "timeout": "10s",
"connections": 8}}`; it is re-read
when it changes, and its entries override the flags'. A secret never appears in a repr.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("cloudrec.webhooks")

MIN_ATTEMPTS = 3  # with retry on, as NCS (spec §15.1)
UNITS = {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True)
class Webhook:
    appid: str
    url: str = field(repr=False)
    secret: str = field(default="", repr=False)
    event_types: frozenset[int] = frozenset()  # empty: every eventType
    retry: bool = True
    retry_for_s: float = 3600.0
    backoff_max_s: float = 30.0
    timeout_s: float = 10.0
    connections: int = 8

    def __post_init__(self) -> None:
        if urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError(f"webhook of {self.appid}: the URL must be http(s)://...")
        if self.connections < 1:
            raise ValueError(f"webhook of {self.appid}: connections must be at least 1")

    def wants(self, event_type: int) -> bool:
        return not self.event_types or event_type in self.event_types

    def next_delay(self, attempts: int, first_attempt_ms: int, now_ms: int) -> float | None:
        """Seconds to wait before attempt `attempts + 1`, or None: give up. The first retry
        is immediate (as NCS), then 0.5 s, 1 s, 2 s, ... up to `backoff_max_s`."""
        if not self.retry:
            return None
        if attempts >= MIN_ATTEMPTS and now_ms - first_attempt_ms >= self.retry_for_s * 1000:
            return None
        return 0.0 if attempts <= 1 else min(self.backoff_max_s, 0.5 * 2.0 ** (attempts - 2))

    @property
    def target(self) -> str:
        return public_url(self.url)


def public_url(url: str) -> str:
    """The URL without credentials or query (for logs): scheme://host[:port]/path."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def seconds(text: str | float) -> float:
    """`90`, `90s`, `1.5m`, `24h`, `250ms`, `1d` → seconds."""
    if isinstance(text, int | float):
        return float(text)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 30m, 24h)")
    return float(match[1]) * UNITS[match[2] or ""]


def _switch(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    if value.lower() in ("on", "true", "yes", "1"):
        return True
    if value.lower() in ("off", "false", "no", "0"):
        return False
    raise ValueError(f"not on/off: {value!r}")


def _types(value: Any) -> frozenset[int]:
    items = re.split(r"[+ ]", value) if isinstance(value, str) else value
    return frozenset(int(item) for item in items if str(item).strip())


OPTIONS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "secret": ("secret", str), "events": ("event_types", _types), "retry": ("retry", _switch),
    "retry_for": ("retry_for_s", seconds), "backoff_max": ("backoff_max_s", seconds),
    "timeout": ("timeout_s", seconds), "connections": ("connections", int)}


def webhook(appid: str, options: Mapping[str, Any]) -> Webhook:
    """A webhook from its options (flag or file spelling: `retry-for` = `retry_for`)."""
    values: dict[str, Any] = {}
    for key, value in options.items():
        name = key.replace("-", "_")
        if name == "url":
            continue
        if name not in OPTIONS:
            raise ValueError(f"webhook of {appid}: unknown option {key!r}")
        attribute, convert = OPTIONS[name]
        values[attribute] = convert(value)
    if not appid or not options.get("url"):
        raise ValueError("a webhook needs an app id and a URL: APPID=URL[,secret=...]")
    return Webhook(appid, str(options["url"]), **values)


def parse_flag(text: str) -> Webhook:
    """`APPID=URL[,secret=S][,events=40+41][,retry=on][,retry-for=24h]...`."""
    appid, _, rest = text.strip().partition("=")
    url, *pairs = rest.split(",")
    options: dict[str, Any] = {"url": url}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"webhook of {appid}: expected option=value, got {key!r}")
        options[key.strip()] = value
    return webhook(appid.strip(), options)


def parse_file(text: str) -> dict[str, Webhook]:
    entries = json.loads(text)
    if not isinstance(entries, dict):
        raise ValueError("a webhooks file is a JSON object: {APPID: {url, secret, ...}}")
    return {appid: webhook(appid, options) for appid, options in entries.items()}


def from_sources(flags: list[str] | tuple[str, ...], env: str = "") -> dict[str, Webhook]:
    """The fixed webhooks: CLOUDREC_WEBHOOKS entries, then flags (a flag wins)."""
    entries = [e for e in env.split(";") if e.strip()] + list(flags)
    return {hook.appid: hook for hook in map(parse_flag, entries)}


class WebhookSettings:
    """The webhooks in force: fixed ones plus a settings file, re-read by `refresh` when it
    changed (a file that does not parse keeps the previous webhooks, and says so)."""

    def __init__(self, fixed: Mapping[str, Webhook], path: Path | None = None) -> None:
        self.fixed, self.path = dict(fixed), path
        self._stamp: tuple[int, int] | None = None
        self._hooks = dict(fixed)
        self.refresh()

    @classmethod
    def from_options(cls, flags: list[str] | tuple[str, ...], path: Path | None = None,
                     environ: Mapping[str, str] = os.environ) -> WebhookSettings:
        return cls(from_sources(flags, environ.get("CLOUDREC_WEBHOOKS", "")), path)

    def __bool__(self) -> bool:
        return bool(self._hooks) or self.path is not None

    def get(self, appid: str) -> Webhook | None:
        return self._hooks.get(appid)

    def wants(self, appid: str, event_type: int) -> bool:
        hook = self._hooks.get(appid)
        return hook is not None and hook.wants(event_type)

    def refresh(self) -> bool:
        """Re-read the settings file if it changed; True when the webhooks changed."""
        stamp = self._file_stamp()
        if self.path is None or stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            from_file = parse_file(self.path.read_text()) if stamp != (0, 0) else {}
        except (OSError, ValueError) as error:
            log.warning("webhooks file %s not applied: %s", self.path, _safe(error))
            return False
        self._hooks = {**self.fixed, **from_file}
        log.info("webhooks: %s", ", ".join(f"{h.appid} → {h.target}" for h in
                                           self._hooks.values()) or "none")
        return True

    def _file_stamp(self) -> tuple[int, int]:
        try:
            status = self.path.stat() if self.path else None
        except FileNotFoundError:
            return (0, 0)
        return (status.st_mtime_ns, status.st_size) if status else (0, 0)


def _safe(error: Exception) -> str:
    """An error's kind only: a JSON error's message may quote the file (and its secrets)."""
    return type(error).__name__ if isinstance(error, json.JSONDecodeError) else str(error)
