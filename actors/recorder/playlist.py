"""The HLS v3 playlist of a mix recording (recording-api.md §13.2, decisions 3, 4 and 11).

A `Playlist` is a list of `Segment`s; `render` writes the text that is uploaded (and overwritten)
after every slice, `parse` rebuilds one from that text so a fail-over can continue it.

A segment holds its slice's file name; the playlist holds its URI, the name percent-encoded
(RFC 3986) except for unreserved characters (`A-Za-z0-9-._~`). The spec's bare file names are URIs
only while a channel name keeps to those: `%`, `?`, `#` and a space, all legal in a channel name,
would otherwise make a player ask an HTTP server for another file. Every other legal character is
encoded too (`+` is a space to some object stores; `:` cannot start a relative reference).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from .timebase import utc17

HEADER = ("#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-ALLOW-CACHE:YES")
DISCONTINUITY = "#EXT-X-DISCONTINUITY"
ENDLIST = "#EXT-X-ENDLIST"
EXTINF = "#EXTINF:"
TRACK_TYPES = ("AUDIO", "VIDEO")


def segment_uri(name: str) -> str:
    """The URI a playlist lists for the slice file `name` (next to the playlist)."""
    return quote(name, safe="")


def segment_name(uri: str) -> str:
    """The slice file name a playlist's URI line stands for."""
    return unquote(uri)


@dataclass
class Segment:
    name: str  # the slice's file name, next to the playlist
    duration: float
    discontinuity: bool = False
    tags: list[str] = field(default_factory=list)  # Agora tags written before #EXTINF

    @property
    def uri(self) -> str:
        return segment_uri(self.name)

    def lines(self) -> list[str]:
        head = [DISCONTINUITY] if self.discontinuity else []
        return [*head, *self.tags, f"{EXTINF}{self.duration:.6f},", self.uri]


class Playlist:
    def __init__(self) -> None:
        self.segments: list[Segment] = []
        self.ended = False
        self._discontinuity = True  # before the first segment
        self._tags: list[str] = []

    def add_discontinuity(self) -> None:
        """The next segment follows a restart, cut or resolution change."""
        self._discontinuity = True

    def mark_track_start(self, track_type: str, ms: int) -> None:
        """Tag the next segment with a START event for `track_type` at UTC `ms`."""
        if track_type not in TRACK_TYPES:
            raise ValueError(f"track_type must be one of {TRACK_TYPES}, not {track_type!r}")
        self._tags.append(f"#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE={track_type},"
                          f"TIME={utc17(ms)}")

    def mark_rotation(self, width: int, height: int, rotate: int, ms: int) -> None:
        """Tag the next segment with the picture size (and counter-clockwise rotation) that
        starts at UTC `ms`: a stream's first, and after every size change (§13.2)."""
        self._tags.append(f"#EXT-X-AGORA-ROTATE:WIDTH={width},HEIGHT={height},ROTATE={rotate},"
                          f"TIME={utc17(ms)}")

    def add_segment(self, name: str, duration: float) -> Segment:
        segment = Segment(name, duration, self._discontinuity, self._tags)
        self.segments.append(segment)
        self._discontinuity, self._tags = False, []
        return segment

    @property
    def target_duration(self) -> int:
        return max((math.ceil(round(s.duration, 6)) for s in self.segments), default=0)

    @property
    def duration(self) -> float:
        return sum(round(s.duration, 6) for s in self.segments)

    def render(self, ended: bool = False) -> str:
        lines = [*HEADER, f"#EXT-X-TARGETDURATION:{self.target_duration}"]
        for segment in self.segments:
            lines += segment.lines()
        if ended:
            lines.append(ENDLIST)
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> Playlist:
        """Rebuild from rendered text; pending tags and discontinuity carry to the next segment."""
        playlist = cls()
        playlist._discontinuity = False
        duration: float | None = None
        for line in filter(None, (raw.strip() for raw in text.splitlines())):
            duration = playlist._parse_line(line, duration)
        return playlist

    def _parse_line(self, line: str, duration: float | None) -> float | None:
        if line == DISCONTINUITY:
            self._discontinuity = True
        elif line == ENDLIST:
            self.ended = True
        elif line.startswith(EXTINF):
            return float(line[len(EXTINF):].split(",", 1)[0])
        elif line.startswith("#EXT-X-AGORA-"):
            self._tags.append(line)
        elif not line.startswith("#"):
            if duration is None:
                raise ValueError(f"segment {line!r} has no #EXTINF")
            self.add_segment(segment_name(line), duration)
            return None
        return duration
