"""The decryption keys of running sessions, kept out of the event log.

Anyone who reads the log (every Kafka consumer) may read `RecordingPlanned`, so a session's
`decryptionMode` secret and salt never go there: the supervisor holds them in memory while the
session runs, and in one file per session, readable by the service's user only, so that a
restarted controller can hand them to the next recorder generation. The files sit in `.keys/`
next to the sessions' work directories (`<workdir>/.keys/<sid>.json`, directory 0700, file
0600) and are deleted when the session ends.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import replace
from pathlib import Path

from cloudrec.actors.channel.encryption import MediaKey
from cloudrec.actors.recorder.config import RecordingConfig

log = logging.getLogger(__name__)


def key_file(config: RecordingConfig) -> Path:
    return config.workdir.parent / ".keys" / f"{config.sid}.json"


def keep(config: RecordingConfig) -> None:
    """Write the session's key file (nothing for clear media)."""
    key = config.media_key
    if key is None:
        return
    path = key_file(config)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = json.dumps({"mode": key.mode, "secret": key.secret,
                       "salt": base64.b64encode(key.salt).decode()})
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


def restore(config: RecordingConfig) -> RecordingConfig:
    """The config rebuilt from the log with its key back; without it (the file is gone) the
    recorder opens no packet and warns about every burst."""
    if config.decryption_mode == 0:
        return config
    try:
        data = json.loads(key_file(config).read_text())
        key = MediaKey(data["mode"], data["secret"], base64.b64decode(data["salt"]))
    except (OSError, ValueError, KeyError):
        log.error("session %s: its decryption key file is missing or unreadable", config.sid)
        return config
    return replace(config, media_key=key)


def forget(config: RecordingConfig) -> None:
    """The session ended: its key goes."""
    if config.decryption_mode != 0:
        key_file(config).unlink(missing_ok=True)
