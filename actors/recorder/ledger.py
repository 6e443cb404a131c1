"""Records every file the output finishes as an event, then hands it to the uploader."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from cloudrec.actors.recorder.config import RecordingConfig
from cloudrec.actors.recorder.files import FileWritten
from cloudrec.actors.uploader.uploader import UploadJob
from cloudrec.events.envelope import Event
from cloudrec.events.log import EventLog
from cloudrec.events.segment import Mp4Written, PlaylistWritten, SliceWritten


class FileLedger:
    def __init__(self, config: RecordingConfig, events: EventLog,
                 deliver: Callable[[UploadJob], None]) -> None:
        self.config = config
        self.events = events
        self.deliver = deliver
        self.closing = False  # set before the output's close: its playlist carries ENDLIST

    def on_file(self, written: FileWritten) -> None:
        self.events.append([self._event(written)])
        # the playlist is rewritten: no digest
        md5 = "" if written.kind == "playlist" else md5_of(written.path)
        self.deliver(UploadJob(sid=self.config.sid, generation=self.config.generation,
                               key=written.key, path=written.path, kind=written.kind, md5=md5))

    def _event(self, w: FileWritten) -> Event:
        sid, generation = self.config.sid, self.config.generation
        at_ms = int(w.start_ms + w.duration_s * 1000)
        if w.kind == "slice":
            return SliceWritten(stream_id=sid, at_ms=at_ms, generation=generation, key=w.key,
                                index=w.index, start_ms=w.start_ms, duration_s=w.duration_s,
                                size=w.size)
        if w.kind == "mp4":
            return Mp4Written(stream_id=sid, at_ms=at_ms, generation=generation, key=w.key,
                              index=w.index, start_ms=w.start_ms, duration_s=w.duration_s,
                              size=w.size)
        return PlaylistWritten(stream_id=sid, at_ms=at_ms, generation=generation, key=w.key,
                               segments=w.index, ended=self.closing)


def md5_of(path: Path) -> str:
    """Digest of the bytes as written: the store verifies it (ContentMD5) and events keep it."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
