"""Individual-mode files on disk (§13.1, §13.2): sessions, users, tracks and UTC-anchored slices.

A playlist `<sid>_<cname>__uid_s_<uid>__uid_e_<audio|video>.m3u8` (optionally `bak<n>_`-prefixed
after a fail-over, whose slices join the same track) lists MPEG-TS slices, or WebM ones for a VP8
or VP9 video; both are read the same way (FFmpeg recognises the container by its content).

How a slice is placed on the UTC timeline: TS timestamps inside a slice may count from the
recording's start, a restart or anything else, so they are only trusted *relative to the slice's
earliest timestamp*. The slice's absolute start is, in order of preference:

1. the 17-digit UTC time in its own name (`..._<YYYYMMDDhhmmssSSS>.ts`, the slice's start);
2. the `TIME=` of an `#EXT-X-AGORA-TRACK-EVENT:EVENT=START` tag on that segment;
3. the previous slice's start plus its `#EXTINF` duration.

A frame's UTC time is then `slice start + (frame pts - earliest pts in the slice)`. Anchoring
every slice on its own name keeps errors from adding up over a long recording and survives
timestamp resets at discontinuities; names carry milliseconds, far inside the 40 ms sync budget.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cloudrec.actors.recorder.playlist import Playlist, Segment

PLAYLIST = re.compile(
    r"^(?:bak\d+_)?(?P<session>.+?)__uid_s_(?P<uid>.+)__uid_e_(?P<kind>audio|video)\.m3u8$"
)
NAMED_TIME = re.compile(r"_(\d{17})\.[A-Za-z0-9]+$")
START_TIME = re.compile(r"^#EXT-X-AGORA-TRACK-EVENT:EVENT=START,.*TIME=(\d{17})")


class ToolError(Exception):
    """A problem with the user's files or options, reported without a traceback."""


@dataclass(frozen=True)
class Slice:
    path: Path
    start: float  # UTC seconds since the epoch
    duration: float

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass
class User:
    uid: str
    tracks: dict[str, list[Slice]] = field(default_factory=dict)  # "audio"/"video" -> slices


@dataclass
class Session:
    name: str  # "<sid>_<cname>"
    folder: Path
    users: dict[str, User] = field(default_factory=dict)


def parse_utc17(text: str) -> float:
    """`YYYYMMDDhhmmssSSS` as UTC seconds since the epoch."""
    moment = datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return moment.timestamp() + int(text[14:17]) / 1000


def read_slices(playlist: Path, strict: bool = True) -> list[Slice]:
    """The slices a playlist lists, anchored on the UTC timeline (see the module docstring).

    Not `strict`, a first slice with no time of its own starts at 0 instead of failing.
    """
    try:
        parsed = Playlist.parse(playlist.read_text())
    except (OSError, ValueError) as exc:
        raise ToolError(f"cannot read playlist {playlist}: {exc}") from exc
    slices: list[Slice] = []
    for segment in parsed.segments:
        previous = slices[-1] if slices else None
        if previous is None and not strict:
            previous = Slice(playlist, 0.0, 0.0)
        start = _anchor(segment, previous, playlist)
        slices.append(Slice(playlist.parent / segment.name, start, segment.duration))
    return slices


def _anchor(segment: Segment, previous: Slice | None, playlist: Path) -> float:
    named = NAMED_TIME.search(segment.name)
    if named:
        return parse_utc17(named.group(1))
    for tag in segment.tags:
        started = START_TIME.match(tag)
        if started:
            return parse_utc17(started.group(1))
    if previous is None:
        raise ToolError(f"{playlist}: cannot tell when {segment.name} starts (no time in its "
                        "name, no START tag)")
    return previous.end


def find_sessions(root: Path) -> list[Session]:
    """Every individual-mode session under `root`, in name order, users and tracks filled in."""
    if not root.is_dir():
        raise ToolError(f"{root} is not a directory")
    sessions: dict[tuple[Path, str], Session] = {}
    for playlist in sorted(root.rglob("*.m3u8")):
        match = PLAYLIST.match(playlist.name)
        if match:
            _add_track(sessions, playlist, match)
    return sorted(sessions.values(), key=lambda s: (s.name, str(s.folder)))


def _add_track(sessions: dict[tuple[Path, str], Session], playlist: Path,
               match: re.Match[str]) -> None:
    key = (playlist.parent, match["session"])
    session = sessions.setdefault(key, Session(match["session"], playlist.parent))
    user = session.users.setdefault(match["uid"], User(match["uid"]))
    known = user.tracks.get(match["kind"], [])
    merged = {s.path: s for s in [*known, *read_slices(playlist)]}
    user.tracks[match["kind"]] = sorted(merged.values(), key=lambda s: s.start)


def missing(slices: Iterable[Slice]) -> list[Path]:
    return [s.path for s in slices if not s.path.is_file()]


def require_present(slices: Iterable[Slice]) -> None:
    """Fail before any work when a referenced slice is not on disk (as Agora's script does)."""
    absent = missing(slices)
    if absent:
        shown = "\n  ".join(str(p) for p in absent[:10])
        more = f"\n  ... and {len(absent) - 10} more" if len(absent) > 10 else ""
        raise ToolError(f"{len(absent)} slice(s) referenced by the playlists are missing:\n"
                        f"  {shown}{more}")
