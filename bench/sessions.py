"""Recording sessions as the log holds them, for benchmarks that need sessions without media."""

from __future__ import annotations

import time
import uuid

from cloudrec.events.log import EventLog
from cloudrec.events.recording import RecorderLaunched, RecordingStarted

APP = "benchapp"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def open_sessions(log: EventLog, count: int) -> list[str]:
    """`count` mix sessions of app APP, started and recording (resourceId `r-<sid>`)."""
    sids = [uuid.uuid4().hex for _ in range(count)]
    for sid in sids:
        log.append([RecordingStarted(stream_id=sid, at_ms=now_ms(), appid=APP, cname="bench",
                                     uid="1", resource_id=f"r-{sid}", mode="mix", config={},
                                     av_file_types=["hls"], file_prefix=[],
                                     playlist=f"{sid}_bench.m3u8"),
                    RecorderLaunched(stream_id=sid, at_ms=now_ms(), generation=1,
                                     recorder_uid=900001)])
    return sids
