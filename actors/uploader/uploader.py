"""The uploader core: moves finished files to the customer's storage and records every outcome.

A file is retried with exponential backoff (`UploadFailed`, warning 31); if the store keeps
failing it goes to the backup location (`FileBackedUp`, warning 32) and so does every later
file while a backlog exists (order kept; the playlist always last), until `drain()` pushed the
backlog to the customer's storage. A store that refuses for good (no bucket, wrong keys) is
never retried and nothing falls back silently: `RecordingFailed` (module 1, code 32), and files
stay on local disk. A local file is deleted only after a store confirmed it (size checked);
the playlist stays, as it is rewritten after every slice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from cloudrec.actors.uploader.storage import (
    FileStorage,
    Storage,
    StorageRejected,
    StorageUnavailable,
)
from cloudrec.events.envelope import Event
from cloudrec.events.log import EventLog
from cloudrec.events.recording import RecordingFailed, UploadingStatus
from cloudrec.events.upload import (
    FileBackedUp,
    FileKind,
    FileUploaded,
    UploaderStarted,
    UploadFailed,
    UploadProgressed,
)

log = logging.getLogger(__name__)
Outcome = Literal["uploaded", "backuped", "failed"]
UPLOADER_MODULE, BAD_STORAGE = 1, 32


@dataclass(frozen=True)
class UploadJob:
    sid: str
    generation: int
    key: str
    path: Path
    kind: FileKind
    md5: str = ""  # of the bytes the recorder wrote; "" for the (rewritten) playlist


def uploading_status(outcomes: list[Outcome]) -> UploadingStatus:
    """stop's `uploadingStatus` (§9) from every file's outcome."""
    if all(o == "uploaded" for o in outcomes):
        return "uploaded"
    return "backuped" if "failed" not in outcomes else "unknown"


class Uploader:
    def __init__(self, storage: Storage, events: EventLog, clock_ms: Callable[[], int],
                 backup: FileStorage | None = None, attempts: int = 4, backoff_s: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.storage, self.events, self.clock_ms, self.backup = storage, events, clock_ms, backup
        self.attempts, self.backoff_s, self.sleep = attempts, backoff_s, sleep
        self.lock = threading.RLock()
        self.backlog: dict[str, UploadJob] = {}  # in push order; jobs point into the backup
        self.rejected = ""
        self.handed: set[str] = set()
        self.confirmed: set[str] = set()
        self.fence = 0  # the recorder generation that owns the session

    def replay(self, events: Iterable[Event]) -> None:
        """Rebuild backlog, counts and refusal from the session's events (a restarted actor)."""
        for event in events:
            if isinstance(event, FileBackedUp) and self.backup is not None:
                self.handed.add(event.key)
                self.backlog.pop(event.key, None)
                self.backlog[event.key] = UploadJob(event.stream_id, event.generation, event.key,
                                                    self.backup.path(event.key), event.kind)
            elif isinstance(event, FileUploaded):
                self.handed.add(event.key)
                self.confirmed.add(event.key)
                if event.restored:
                    self.backlog.pop(event.key, None)
            elif isinstance(event, RecordingFailed) and event.module == UPLOADER_MODULE:
                self.rejected = event.message

    def announce(self, sid: str, generation: int) -> str:
        """Record the start; fail fast on a store that can never take files ("" if fine)."""
        self.events.append([UploaderStarted(stream_id=sid, at_ms=self.clock_ms(),
                                            generation=generation,
                                            storage=self.storage.describe())])
        try:
            self.storage.check()
        except StorageRejected as error:
            self._reject(sid, generation, str(error))
        except StorageUnavailable as error:  # may come back: the first upload will tell
            log.warning("storage %s not reachable at start: %s", self.storage.describe(), error)
        return self.rejected

    def fence_below(self, generation: int) -> None:
        """Generation `generation` owns the session now: an older one's playlist (a zombie's,
        rewritten after the cut) must not replace the one its successor continues."""
        with self.lock:
            self.fence = max(self.fence, generation)

    def upload(self, job: UploadJob) -> Outcome:
        """Upload one file; "uploaded" once the customer's storage confirmed it.

        A file handed again (a later generation re-hands what was never confirmed) is not sent
        twice; events are stamped with the owning generation, so the log takes them."""
        with self.lock:
            if job.kind == "playlist" and job.generation < self.fence:
                log.warning("refused %s from fenced generation %d", job.key, job.generation)
                return "failed"
            if job.key in self.confirmed and job.kind != "playlist":
                return "uploaded"
            job = replace(job, generation=max(job.generation, self.fence))
            self.handed.add(job.key)
            if self.rejected:
                return "failed"
            if self.backlog:
                return self._to_backup(job, "earlier files are still waiting in the backup")
            try:
                return self._to_primary(job)
            except StorageRejected as error:
                self._reject(job.sid, job.generation, str(error))
                return "failed"
            except StorageUnavailable as error:
                return self._to_backup(job, str(error))

    def _to_primary(self, job: UploadJob) -> Outcome:
        for attempt in range(1, self.attempts + 1):
            try:
                size = self.storage.put(job.key, job.path, job.md5)
            except StorageUnavailable as error:
                self._failed(job, attempt, error)
                if attempt == self.attempts:
                    raise
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
                continue
            self._confirmed(job, size, restored=False)
            return "uploaded"
        raise AssertionError("unreachable")

    def _to_backup(self, job: UploadJob, reason: str) -> Outcome:
        if self.backup is None:
            return "failed"
        try:
            size = self.backup.put(job.key, job.path, job.md5)
        except OSError as error:
            log.error("backup of %s failed: %s", job.key, error)
            return "failed"
        self.backlog.pop(job.key, None)  # a newer playlist goes to the end again
        self.backlog[job.key] = replace(job, path=self.backup.path(job.key))
        self.events.append([FileBackedUp(stream_id=job.sid, at_ms=self.clock_ms(),
                                         generation=job.generation, key=job.key, kind=job.kind,
                                         size=size, reason=reason[:300])])
        if job.kind != "playlist":
            job.path.unlink(missing_ok=True)
        return "backuped"

    def drain(self) -> bool:
        """Push the backlog to the customer's storage, oldest first; True once it is empty."""
        with self.lock:
            playlists_last = sorted(self.backlog.items(), key=lambda kv: kv[1].kind == "playlist")
            for key, job in playlists_last:
                job = replace(job, generation=max(job.generation, self.fence))
                if self.rejected:
                    return False
                try:
                    size = self.storage.put(key, job.path, job.md5)
                except StorageUnavailable:
                    return False
                except StorageRejected as error:
                    self._reject(job.sid, job.generation, str(error))
                    return False
                self._confirmed(job, size, restored=True)
                del self.backlog[key]
            return True

    def progress(self, sid: str) -> int:
        """Record and return the share of files the customer's storage confirmed (x10000)."""
        with self.lock:
            done = len(self.confirmed & self.handed) * 10000 // max(1, len(self.handed))
        self.events.append([UploadProgressed(stream_id=sid, at_ms=self.clock_ms(),
                                             progress=done)])
        return done

    def _confirmed(self, job: UploadJob, size: int, restored: bool) -> None:
        self.confirmed.add(job.key)
        self.events.append([FileUploaded(stream_id=job.sid, at_ms=self.clock_ms(),
                                         generation=job.generation, key=job.key, kind=job.kind,
                                         size=size, md5=job.md5, restored=restored)])
        if job.kind != "playlist" or restored:
            job.path.unlink(missing_ok=True)

    def _failed(self, job: UploadJob, attempt: int, error: Exception) -> None:
        log.warning("upload of %s failed (attempt %d): %s", job.key, attempt, error)
        self.events.append([UploadFailed(stream_id=job.sid, at_ms=self.clock_ms(),
                                         generation=job.generation, key=job.key, kind=job.kind,
                                         attempt=attempt, reason=str(error)[:300])])

    def _reject(self, sid: str, generation: int, reason: str) -> None:
        if self.rejected:
            return
        self.rejected = reason
        log.error("storage %s refused: %s", self.storage.describe(), reason)
        self.events.append([RecordingFailed(
            stream_id=sid, at_ms=self.clock_ms(), generation=generation, module=UPLOADER_MODULE,
            error_code=BAD_STORAGE, message=f"storage refused: {reason}"[:300])])
