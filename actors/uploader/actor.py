"""Ray shell of an uploader: forwards upload jobs to the `Uploader` core, pushes the backup to
the customer's storage in the background and reports progress (event 33) every minute.

The customer's keys arrive in the constructor (`Destination`) and live only in this actor.
After the session ended, `retire()` drains the backup and then ends the actor: nothing needs
it any more (a restarted controller only looks for the uploaders of unfinished sessions).
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
from cloudrec.events.backends import open_event_log

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
        events = open_event_log(events_url)
        self.core = Uploader(primary, events, _now_ms, backup)
        self.sid = sid
        if sid:  # a restart after a crash: the backlog waiting in the backup comes back
            self.core.replay(events.read_stream(sid))
        self.drain_s, self.progress_s = drain_s, progress_s
        self.stopping = threading.Event()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        last_progress = time.monotonic()
        while not self.stopping.wait(self.drain_s):
            try:
                if self.core.backlog:
                    self.core.drain()
                if self.sid and time.monotonic() - last_progress >= self.progress_s:
                    last_progress = time.monotonic()
                    self.core.progress(self.sid)
            except Exception:  # the loop must outlive one bad round
                log.exception("uploader background round failed")

    def announce(self, sid: str, generation: int) -> str:
        self.sid = sid
        return self.core.announce(sid, generation)

    def fence_below(self, generation: int) -> None:
        self.core.fence_below(generation)

    def upload(self, job: UploadJob) -> Outcome:
        return self.core.upload(job)

    def retire(self) -> None:
        """Drain the backup to the customer's storage (however long it takes), report the
        final progress and end this actor (the caller sees it die instead of an answer)."""
        while not self.core.drain():
            if self.core.rejected:
                break
            time.sleep(self.drain_s)
        self.stopping.set()
        if self.sid:
            self.core.progress(self.sid)
        ray.actor.exit_actor()  # type: ignore[no-untyped-call]
