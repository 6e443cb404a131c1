"""HLS output: MPEG-TS slices plus the playlist rewritten after each one (§13.1-13.3).

Slices share one timeline: TS timestamps are recording time + `TS_OFFSET`. The offset keeps the
first slice's B-frame dts and AAC priming non-negative, which a TS muxer would otherwise shift
per file (and so per slice, breaking continuity between slices).
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction

import av
from av.packet import Packet
from av.stream import Stream

from .files import FileWritten, OnFile, OutputConfig, replace_text
from .naming import file_name, playlist_name, slice_name
from .playlist import Playlist
from .segment import mux

log = logging.getLogger(__name__)
TS_OFFSET = Fraction(10)  # seconds
TS_PACKET = 188
NULL_PACKET = b"\x47\x1f\xff\x10" + b"\xff" * (TS_PACKET - 4)  # PID 0x1FFF: ignored by demuxers
MIN_LAST_SLICE = Fraction(1)  # seconds: a shorter tail stays in the slice before it
# every packet reaches the file as it is muxed: what a killed recorder wrote can be salvaged
FLUSHED = {"flush_packets": "1"}
PROBE_BYTES = 12 * TS_PACKET  # FFmpeg only recognises a TS of at least 10 * 204 bytes by content


def pad_for_probing(path: os.PathLike[str] | str) -> None:
    """Append null packets to a TS too short to be recognised as TS by its content.

    A slice of one or two frames (a stop right after a cut) is a valid TS, but FFmpeg's probe
    needs ten packets' worth of bytes before it says "MPEG-TS"; a player opening the slice on
    its own would fail. Null packets are TS stuffing: every demuxer skips them.
    """
    size = os.path.getsize(path)
    if size < PROBE_BYTES:
        with open(path, "ab") as file:
            file.write(NULL_PACKET * -(-(PROBE_BYTES - size) // TS_PACKET))


class SliceWriter:
    """A `PartSink` writing one TS file per slice; `templates` maps kind to encoder stream."""

    def __init__(self, config: OutputConfig, templates: dict[str, Stream], on_file: OnFile) -> None:
        self._config = config
        self._templates = templates
        self._on_file = on_file
        self.playlist = _initial_playlist(config)
        continuing = config.continue_playlist is not None
        self._playlist_key = playlist_name(
            config.prefix, config.sid, config.cname, None if continuing else config.failover
        )
        self._index = len(self.playlist.segments)
        self.ends_at: Fraction | None = None  # recording time of the end, once it is known
        self._start = Fraction(0)
        self._key = ""
        self._container: av.container.OutputContainer | None = None
        self._streams: dict[str, Stream] = {}

    def wants_cut(self, at: Fraction) -> bool:
        if self.ends_at is not None and self.ends_at - at < MIN_LAST_SLICE:
            return False  # the recording ends within the next second: no tiny last slice
        return at - self._start >= Fraction(self._config.slice_seconds)

    def open(self, start: Fraction) -> None:
        c = self._config
        self._start = start
        self._key = slice_name(c.prefix, c.sid, c.cname, c.utc_ms(start), c.failover)
        self._container = av.open(str(c.path(self._key)), "w", format="mpegts",
                                  options=FLUSHED)
        self._streams = {
            kind: self._container.add_stream_from_template(t, opaque=True)
            for kind, t in self._templates.items()
        }

    def write(self, packet: Packet[Stream], kind: str) -> None:
        assert self._container is not None
        mux(self._container, self._streams[kind], packet, shift=-TS_OFFSET)

    def close(self, end: Fraction, last: bool) -> None:
        assert self._container is not None
        self._container.close()
        self._container = None
        if not self._config.path(self._key).exists():  # a later generation took it over
            log.warning("slice %s was taken over before it was closed", self._key)
            return
        pad_for_probing(self._config.path(self._key))
        duration = float(end - self._start)
        self.playlist.add_segment(file_name(self._key), duration)
        self._emit("slice", self._key, self._config.utc_ms(self._start), duration, self._index)
        self._index += 1
        self.write_playlist(ended=last)

    def write_playlist(self, ended: bool) -> None:
        replace_text(self._config.path(self._playlist_key), self.playlist.render(ended))
        segments = len(self.playlist.segments)
        self._emit("playlist", self._playlist_key, self._config.start_ms,
                   self.playlist.duration, segments)

    def _emit(self, kind: str, key: str, start_ms: int, duration: float, index: int) -> None:
        path = self._config.workdir / key
        size = path.stat().st_size
        self._on_file(FileWritten(kind, path, key, start_ms, duration, index, size))  # type: ignore[arg-type]


def _initial_playlist(config: OutputConfig) -> Playlist:
    if config.continue_playlist is None:
        return Playlist()
    playlist = Playlist.parse(config.continue_playlist)
    playlist.add_discontinuity()
    return playlist
