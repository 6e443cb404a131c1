"""The files `cloudrec merge` writes (§16.1): one job per output, with its timeline and slices.

-m 0: one A/V MP4 per user per recording segment, `<uid>_<utc>_av.mp4` (utc: the segment's
earliest audio or video start); -m 1: one A/V MP4 per user, `<uid>_0_merge_av.mp4`; -m 2: audio
only, `<uid>_0_merge.m4a`; -m 3: video only, `<uid>_0_merge.mp4`. Without -s an output runs from
the user's first to last moment; with -s the stretches without the user are left out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from cloudrec.actors.recorder.timebase import utc17

from .spans import SEGMENT_GAP, Timeline, presence
from .tracks import Session, Slice, User

KINDS = {0: ("audio", "video"), 1: ("audio", "video"), 2: ("audio",), 3: ("video",)}


@dataclass(frozen=True)
class MergeOptions:
    folder: Path
    mode: int = 0
    skip_gaps: bool = False
    fps: int = 15
    size: tuple[int, int] | None = None
    uid: str | None = None


@dataclass
class Job:
    path: Path
    uid: str
    timeline: Timeline
    tracks: dict[str, list[Slice]]  # kind -> the slices this output reads

    @property
    def seconds(self) -> float:
        return sum(s.duration for slices in self.tracks.values() for s in slices)


def plan(sessions: list[Session], options: MergeOptions) -> list[Job]:
    shared = Counter(session.folder for session in sessions)
    jobs: list[Job] = []
    for session in sessions:
        folder = session.folder
        if shared[folder] > 1:
            folder = folder / session.name
        for user in session.users.values():
            jobs += _user_jobs(user, folder, options)
    return jobs


def wanted(user: User, mode: int) -> dict[str, list[Slice]]:
    """The user's tracks an output of `mode` holds (only those that exist)."""
    return {kind: user.tracks[kind] for kind in KINDS[mode] if user.tracks.get(kind)}


def _user_jobs(user: User, folder: Path, options: MergeOptions) -> list[Job]:
    tracks = wanted(user, options.mode)
    slices = [s for kind_slices in tracks.values() for s in kind_slices]
    if not slices:
        return []
    return [
        Job(folder / _name(user.uid, options.mode, timeline), user.uid, timeline,
            {kind: [s for s in kind_slices if timeline.covers(s)]
             for kind, kind_slices in tracks.items()})
        for timeline in _timelines(slices, options)
    ]


def _timelines(slices: list[Slice], options: MergeOptions) -> list[Timeline]:
    if options.mode == 0:
        return [Timeline([segment]) for segment in presence(slices, join=SEGMENT_GAP)]
    if options.skip_gaps:
        return [Timeline(presence(slices))]
    return [Timeline([(min(s.start for s in slices), max(s.end for s in slices))])]


def _name(uid: str, mode: int, timeline: Timeline) -> str:
    if mode == 0:
        return f"{uid}_{utc17(round(timeline.start * 1000))}_av.mp4"
    return {1: f"{uid}_0_merge_av.mp4", 2: f"{uid}_0_merge.m4a", 3: f"{uid}_0_merge.mp4"}[mode]
