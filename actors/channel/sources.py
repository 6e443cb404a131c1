"""Opening a publisher source from a command-line word: `synthetic` or a file/URL."""

from __future__ import annotations

from cloudrec.actors.channel.dual_stream import DualStream
from cloudrec.actors.channel.file_source import FileSource
from cloudrec.actors.channel.publisher import Source
from cloudrec.actors.channel.synthetic import SyntheticPublisher, publisher_colors


def open_source(spec: str, uid: int, palette_index: int = 0, dual_stream: bool = False) -> Source:
    """With `dual_stream` its video is sent twice, as a high and a low stream (`DualStream`)."""
    source = _open(spec, uid, palette_index)
    return DualStream(source) if dual_stream else source


def _open(spec: str, uid: int, palette_index: int) -> Source:
    if spec == "synthetic":
        color, tone = publisher_colors(palette_index + 1)[palette_index]
        return SyntheticPublisher(uid, color, tone)
    return FileSource(spec, uid=uid)
