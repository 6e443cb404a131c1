"""Ray shell of an uploader: forwards upload jobs to the `Uploader` core, pushes the backup to
the customer's storage in the background and reports progress (event 33) every minute.

The customer's keys arrive in the constructor (`Destination`) and live only in this actor.
Once its session has ended (`retire()`, or its `SessionExited` found in the log when a crashed
uploader is restarted), the background loop drains what is left of the backup, reports the final
progress and ends the actor: nothing needs it any more (a restarted controller only looks for
the uploaders of unfinished sessions).
"""

from __future__ import annotations

import logging
import threading
import time

import ray

from cloudrec.actors.uploader.destination import Destination
from cloudrec.actors.uploader.s3 import S3Storage
from cloudrec.actors.uploader.storage import FileStorage, Storage, open_storage
from cloudrec.actors.uploader.uploader import Outcome, Uploader, UploadJob
from cloudrec.events.backends import shared_event_log
from cloudrec.events.recording import SessionExited

log = logging.getLogger(__name__)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _stores(storage_url: str,
            destination: Destination | None) -> tuple[Storage, FileStorage | None]:
    if destination is None:
        return open_storage(storage_url), None
    backup = open_storage(destination.backup_url) if destination.backup_url else None
    return S3Storage(destination), backup


class UploaderActor:
    def __init__(self, storage_url: str, events_url: str, destination: Destination | None = None,
                 sid: str = "", drain_s: float = 2.0, progress_s: float = 60.0) -> None:
        primary, backup = _stores(storage_url, destination)
        events = shared_event_log(events_url)
        self.core = Uploader(primary, events, _now_ms, backup)
        self.sid = sid
        self.retiring = threading.Event()
        if sid:  # a restart after a crash: the backlog waiting in the backup comes back
            history = list(events.read_stream(sid))
            self.core.replay(history)
            if any(isinstance(event, SessionExited) for event in history):
                self.retiring.set()
        self.drain_s, self.progress_s = drain_s, progress_s
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        last_progress = time.monotonic()
        while True:
            time.sleep(self.drain_s)
            try:
                drained = not self.core.backlog or self.core.drain()
                if self.retiring.is_set() and (drained or self.core.rejected):
                    break
                if self.sid and time.monotonic() - last_progress >= self.progress_s:
                    last_progress = time.monotonic()
                    self.core.progress(self.sid)
            except Exception:  # the loop must outlive one bad round
                log.exception("uploader background round failed")
        self._end()

    def _end(self) -> None:
        """The session ended and its files are in storage (or refused for good): go."""
        try:
            if self.sid:
                self.core.progress(self.sid)
        finally:
            ray.kill(ray.get_runtime_context().current_actor, no_restart=True)

    def announce(self, sid: str, generation: int) -> str:
        self.sid = sid
        return self.core.announce(sid, generation)

    def fence_below(self, generation: int) -> None:
        self.core.fence_below(generation)

    def upload(self, job: UploadJob) -> Outcome:
        return self.core.upload(job)

    def retire(self) -> None:
        """The session ended: once the backup has been drained to the customer's storage
        (however long that takes), this actor ends itself."""
        self.retiring.set()
