"""How generation n+1 carries a recording on after generation n died (spec §14, decision 11).

From the `recovery` view of the log and the files earlier generations left in their working
folders: half-written slices are completed from what was written (`FileSalvaged`) or dropped
(`FileDropped`); files finished but never confirmed by storage are handed to the uploader
again; the playlist under the original name is continued with a discontinuity at the cut; and
the new generation's output starts where the last good slice ended, re-rendered from the
channel's packet history when that still reaches back, so the cut costs little or no media.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cloudrec.actors.recorder.files import local_path, replace_text
from cloudrec.actors.recorder.hls import TS_OFFSET
from cloudrec.actors.recorder.naming import file_name
from cloudrec.actors.recorder.playlist import Playlist
from cloudrec.actors.recorder.salvage import salvage_file
from cloudrec.actors.recorder.timebase import utc17
from cloudrec.actors.uploader.uploader import UploadJob
from cloudrec.events.envelope import Event
from cloudrec.events.segment import FileDropped, FileSalvaged, PlaylistWritten
from cloudrec.projections import recovery
from cloudrec.projections.recovery import RecoveryView

MEDIA_SUFFIXES = {".ts": "slice", ".webm": "slice", ".mp4": "mp4"}
TRACK_SLICE = re.compile(r"^(?:bak\d+_)?(.+__uid_e_(?:audio|video))_\d{17}\.(?:ts|webm)$")


@dataclass(frozen=True)
class Resume:
    """What a later generation's core continues from."""

    origin_ms: int  # channel time of TS/MP4 time 0: the recording's, not this generation's
    t0_ms: int  # channel time from which this generation renders
    discontinue_ms: int  # end of the last good slice (event 42's discontinueUtcMs)
    playlist: str | None  # the playlist so far, to continue under its original name
    next_mp4_index: int
    receiving: frozenset[tuple[int, str]]  # users' streams already reported as received
    tracks: Mapping[str, TrackResume] = field(default_factory=dict)  # individual mode


@dataclass(frozen=True)
class TrackResume:
    """Individual mode: one user's audio or video playlist so far, and where it ended."""

    playlist: str
    discontinue_ms: int


@dataclass(frozen=True)
class Leftover:
    path: Path
    key: str
    generation: int


def generation_dir(session_dir: Path, generation: int) -> Path:
    """Each generation writes under its own folder: a zombie cannot touch its successor's."""
    return session_dir / f"g{generation}"


def leftovers(view: RecoveryView, session_dir: Path, generation: int) -> list[Leftover]:
    """Media files of earlier generations that no event finished, salvaged or dropped."""
    found = []
    for earlier in range(1, generation):
        root = generation_dir(session_dir, earlier)
        for path in sorted(root.rglob("*")) if root.is_dir() else ():
            key = path.relative_to(root).as_posix()
            if path.suffix in MEDIA_SUFFIXES and key not in view.known:
                found.append(Leftover(path, key, earlier))
    return found


def _settle_one(view: RecoveryView, item: Leftover, sid: str, generation: int,
                at_ms: int) -> Event:
    """`FileSalvaged` (the file rewritten in place) or `FileDropped` for one leftover."""
    kind = MEDIA_SUFFIXES[item.path.suffix]
    kept = salvage_file(item.path) if view.origin_ms and kind == "slice" else None
    if kept is None:
        reason = ("an MP4 part has no index until it is closed" if kind == "mp4"
                  else "nothing decodable was written")
        return FileDropped(stream_id=sid, at_ms=at_ms, generation=generation, key=item.key,
                           kind=kind, from_generation=item.generation, reason=reason)  # type: ignore[arg-type]
    start_ms = view.origin_ms + round((kept.first_s - float(TS_OFFSET)) * 1000)
    return FileSalvaged(stream_id=sid, at_ms=at_ms, generation=generation, key=item.key,
                        kind="slice", from_generation=item.generation,
                        index=view.next_slice_index, start_ms=start_ms,
                        duration_s=round(kept.end_s - kept.first_s, 6), size=kept.size)


def local_file(session_dir: Path, key: str, generation: int) -> Path | None:
    """Where an earlier generation left the file `key`, if it is still there."""
    for earlier in range(generation - 1, 0, -1):
        path = generation_dir(session_dir, earlier) / key
        if path.exists():
            return path
    return None


def continued_playlist(view: RecoveryView) -> str | None:
    """The mix playlist under the original name as the log knows it, every cut a
    discontinuity (None before the first slice)."""
    return _render(view.segments, ("AUDIO", "VIDEO")) if view.segments else None


def track_playlist_key(slice_key: str) -> str | None:
    """Individual mode: the playlist (original name) a user's audio or video slice belongs to."""
    folder, _, name = slice_key.rpartition("/")
    match = TRACK_SLICE.match(name)
    if match is None:
        return None
    return f"{folder}/{match[1]}.m3u8" if folder else f"{match[1]}.m3u8"


def track_playlists(view: RecoveryView) -> dict[str, TrackResume]:
    """Individual mode: each user's audio and video playlist so far, to continue."""
    grouped: dict[str, list[recovery.Segment]] = {}
    for segment in view.segments:
        if (key := track_playlist_key(segment.key)) is not None:
            grouped.setdefault(key, []).append(segment)
    return {key: TrackResume(_render(segments, (key.rsplit("_", 1)[-1][:-5].upper(),)),
                             segments[-1].start_ms + round(segments[-1].duration_s * 1000))
            for key, segments in grouped.items()}


def _render(segments: Iterable[recovery.Segment], tracks: tuple[str, ...]) -> str:
    playlist = Playlist()
    for number, segment in enumerate(segments):
        if number == 0:
            for track in tracks:
                playlist.mark_track_start(track, segment.start_ms)
        elif segment.discontinuity:
            playlist.add_discontinuity()
        playlist.add_segment(file_name(segment.key), segment.duration_s)
    return playlist.render()


def plan(view: RecoveryView, now_ms: int, history_ms: int) -> Resume:
    """Where generation n+1 starts: at the last good slice's end when the channel's history
    still holds it, else as early as the history allows (the rest is the measured gap)."""
    individual = not view.playlist  # individual mode: no one playlist, one per user's track
    tracks = track_playlists(view) if individual else {}
    end = _individual_end(view, tracks) if individual else view.last_slice_end_ms
    end = end or view.origin_ms
    earliest = now_ms - history_ms + 1000
    t0 = max(end, earliest) if end else now_ms
    receiving = frozenset((int(uid), track) for uid, track in view.receiving)
    return Resume(origin_ms=view.origin_ms or t0, t0_ms=min(t0, now_ms),
                  discontinue_ms=end or t0,
                  playlist=None if individual else continued_playlist(view),
                  next_mp4_index=view.next_mp4_index, receiving=receiving,
                  tracks=tracks)


def take_over(view: RecoveryView, session_dir: Path, generation: int, sid: str,
              at_ms: int) -> tuple[RecoveryView, list[Event], list[UploadJob]]:
    """What `generation` does first with what the ones before it left: settle their
    half-written files, and hand storage every file it never confirmed (playlists aside: they
    are written again). Returns the view with the settling applied, its events, the jobs."""
    events: list[Event] = []
    for item in leftovers(view, session_dir, generation):
        events.append(_settle_one(view, item, sid, generation, at_ms))
        view = recovery.apply(view, events[-1])
    jobs = [UploadJob(sid=sid, generation=generation, key=p.key, path=path, kind=p.kind)
            for p in view.pending if p.kind != "playlist"
            if (path := local_file(session_dir, p.key, generation)) is not None]
    return view, events, jobs


def closing(view: RecoveryView, session_dir: Path, generation: int, sid: str,
            at_ms: int) -> tuple[list[Event], list[UploadJob]]:
    """Close a recording without a recorder (it was lost while stopping, or for the 4th time):
    take over what was left, write the final playlist, and list every file storage needs."""
    view, events, jobs = take_over(view, session_dir, generation, sid, at_ms)
    finals = {key: track.playlist for key, track in track_playlists(view).items()}
    if view.playlist and (text := continued_playlist(view)) is not None:
        finals = {view.playlist: text}
    for key, text in finals.items():
        path = local_path(generation_dir(session_dir, generation), key)
        ended = Playlist.parse(text)
        replace_text(path, ended.render(ended=True))
        events.append(PlaylistWritten(stream_id=sid, at_ms=at_ms, generation=generation,
                                      key=key, segments=len(ended.segments), ended=True))
        jobs.append(UploadJob(sid=sid, generation=generation, key=key, path=path,
                              kind="playlist"))
    return events, jobs


def _individual_end(view: RecoveryView, tracks: Mapping[str, TrackResume]) -> int:
    """Individual mode renders again from the earliest point any stream needs: the end of its
    last good slice, or the recording's start for a stream none of whose slices survived."""
    ends = [track.discontinue_ms for track in tracks.values()]
    named = {key.rsplit("__uid_s_", 1)[-1] for key in tracks}  # "<uid>__uid_e_<kind>.m3u8"
    if any(f"{uid}__uid_e_{kind}.m3u8" not in named for uid, kind in view.receiving):
        ends.append(view.origin_ms)
    return min(ends, default=view.origin_ms)


def describe(resume: Resume) -> str:
    return (f"resume at {utc17(resume.t0_ms)} (last good slice ended "
            f"{utc17(resume.discontinue_ms)}), origin {utc17(resume.origin_ms)}")
