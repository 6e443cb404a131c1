"""The uploader core: moves finished files to storage, retrying, and records every outcome.

A file leaves local disk only after storage confirmed it (slices and MP4s are then deleted from
the recorder's working directory; the playlist stays, as it is rewritten after every slice).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cloudrec.actors.uploader.storage import Storage
from cloudrec.events.log import EventLog
from cloudrec.events.upload import FileKind, FileUploaded, UploaderStarted, UploadFailed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadJob:
    sid: str
    generation: int
    key: str
    path: Path
    kind: FileKind


class Uploader:
    def __init__(self, storage: Storage, events: EventLog, clock_ms: Callable[[], int],
                 attempts: int = 5, backoff_s: float = 0.5) -> None:
        self.storage = storage
        self.events = events
        self.clock_ms = clock_ms
        self.attempts = attempts
        self.backoff_s = backoff_s

    def announce(self, sid: str, generation: int) -> None:
        self.events.append([UploaderStarted(stream_id=sid, at_ms=self.clock_ms(),
                                            generation=generation,
                                            storage=self.storage.describe())])

    def upload(self, job: UploadJob) -> bool:
        """Upload one file with retries; True once storage confirmed it."""
        for attempt in range(1, self.attempts + 1):
            try:
                size = self.storage.put(job.key, job.path)
            except OSError as error:
                self._failed(job, attempt, error)
                time.sleep(self.backoff_s * attempt)
                continue
            self.events.append([FileUploaded(stream_id=job.sid, at_ms=self.clock_ms(),
                                             generation=job.generation, key=job.key,
                                             kind=job.kind, size=size)])
            if job.kind != "playlist":
                job.path.unlink(missing_ok=True)
            return True
        return False

    def _failed(self, job: UploadJob, attempt: int, error: Exception) -> None:
        log.warning("upload of %s failed (attempt %d): %s", job.key, attempt, error)
        self.events.append([UploadFailed(stream_id=job.sid, at_ms=self.clock_ms(),
                                         generation=job.generation, key=job.key, kind=job.kind,
                                         attempt=attempt, reason=str(error))])
