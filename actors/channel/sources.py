"""Opening a publisher source from a command-line word: `synthetic` or a file/URL."""

from __future__ import annotations

from cloudrec.actors.channel.file_source import FileSource
from cloudrec.actors.channel.publisher import Source
from cloudrec.actors.channel.synthetic import SyntheticPublisher, publisher_colors


def open_source(spec: str, uid: int, palette_index: int = 0) -> Source:
    if spec == "synthetic":
        color, tone = publisher_colors(palette_index + 1)[palette_index]
        return SyntheticPublisher(uid, color, tone)
    return FileSource(spec, uid=uid)
