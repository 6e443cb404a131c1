"""Ray shell of an uploader: forwards upload jobs to the `Uploader` core."""

from __future__ import annotations

import time

from cloudrec.actors.uploader.storage import open_storage
from cloudrec.actors.uploader.uploader import Uploader, UploadJob
from cloudrec.events.backends import open_event_log


def _now_ms() -> int:
    return int(time.time() * 1000)


class UploaderActor:
    def __init__(self, storage_url: str, events_url: str) -> None:
        self.core = Uploader(open_storage(storage_url), open_event_log(events_url), _now_ms)

    def announce(self, sid: str, generation: int) -> None:
        self.core.announce(sid, generation)

    def upload(self, job: UploadJob) -> bool:
        return self.core.upload(job)
