"""MP4 output: `<sid>_<cname>_<index>.mp4` written alongside the slices, split after ~2 h / ~2 GB.

Each file's timestamps start at its first key frame, so every part plays from 0.
"""

from __future__ import annotations

from fractions import Fraction

import av
from av.packet import Packet
from av.stream import Stream

from .files import FileWritten, OnFile, OutputConfig
from .naming import mp4_name
from .segment import mux


class Mp4Writer:
    """A `PartSink` writing one MP4 file per part."""

    def __init__(self, config: OutputConfig, templates: dict[str, Stream], on_file: OnFile) -> None:
        self._config = config
        self._templates = templates
        self._on_file = on_file
        self._index = config.mp4_first_index - 1
        self._start = Fraction(0)
        self._bytes = 0
        self._key = ""
        self._container: av.container.OutputContainer | None = None
        self._streams: dict[str, Stream] = {}

    def wants_cut(self, at: Fraction) -> bool:
        c = self._config
        return at - self._start >= Fraction(c.mp4_max_seconds) or self._bytes >= c.mp4_max_bytes

    def open(self, start: Fraction) -> None:
        c = self._config
        self._index += 1
        self._start, self._bytes = start, 0
        self._key = mp4_name(c.prefix, c.sid, c.cname, self._index, c.failover)
        self._container = av.open(str(c.path(self._key)), "w", format="mp4")
        self._streams = {
            kind: self._container.add_stream_from_template(t, opaque=True)
            for kind, t in self._templates.items()
        }

    def write(self, packet: Packet[Stream], kind: str) -> None:
        assert self._container is not None
        self._bytes += packet.size
        mux(self._container, self._streams[kind], packet, shift=self._start)

    def close(self, end: Fraction, last: bool) -> None:
        assert self._container is not None
        self._container.close()
        self._container = None
        path = self._config.workdir / self._key
        self._on_file(FileWritten(
            "mp4", path, self._key, self._config.utc_ms(self._start), float(end - self._start),
            self._index, path.stat().st_size,
        ))
