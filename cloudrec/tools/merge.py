"""`cloudrec merge`: per-user MP4/M4A files from individual-mode recordings (§16.1).

Finds every session under `-f DIR` (`tracks`), plans one job per output file (`plan`), and for
each job decodes the user's slices in UTC order, placing every frame at its output position
(`spans.Timeline`): video is re-encoded H.264 at a constant rate and size (`picture`), audio AAC at
48 kHz (`sound`). Since audio and video are both placed by UTC time, they line up in the output
to within half a video frame. Progress goes to stderr, steps to `DIR/convert.log`, and
`DIR/convert-done.txt` lists the outputs when everything succeeded.
"""

from __future__ import annotations

import argparse
import heapq
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import av
from av.container import OutputContainer

from . import slices as slice_media
from .picture import PictureTrack
from .plan import Job, MergeOptions, plan, wanted
from .report import Progress, RunLog, complain
from .sound import AudioEncoder, SoundTrack
from .tracks import Slice, ToolError, find_sessions, require_present

DONE = "convert-done.txt"
LOG = "convert.log"
FPS_RANGE = (5, 120)


class Track(Protocol):
    def add(self, frame: Any, at: float) -> None: ...  # pragma: no cover
    def finish(self, duration: float) -> None: ...  # pragma: no cover


def main(args: argparse.Namespace) -> int:
    if args.skip_gaps and args.mode == 0:
        complain("merge", "-s cannot be used with -m 0 (each recording segment is already its "
                 "own file); use -m 1, 2 or 3")
        return 2
    fps = min(max(args.fps, FPS_RANGE[0]), FPS_RANGE[1])
    size = (args.size[0], args.size[1]) if args.size else None
    options = MergeOptions(args.folder, args.mode, args.skip_gaps, fps, size, args.uid)
    return run(options)


def run(options: MergeOptions) -> int:
    """Merge as `options` say; 0 on success, 1 (with a message on stderr) on failure."""
    if not options.folder.is_dir():
        complain("merge", f"{options.folder} is not a directory")
        return 1
    log = RunLog(options.folder / LOG)
    (options.folder / DONE).unlink(missing_ok=True)
    log.write(f"merge {options}")
    try:
        outputs = merge(options, log)
    except ToolError as exc:
        log.write(f"failed: {exc}")
        complain("merge", str(exc))
        return 1
    names = [str(p.relative_to(options.folder)) for p in outputs]
    (options.folder / DONE).write_text("".join(f"{name}\n" for name in names))
    log.write(f"done: {len(outputs)} file(s)")
    return 0


def merge(options: MergeOptions, log: RunLog) -> list[Path]:
    jobs = _jobs(options)
    progress = Progress("merge", sum(job.seconds for job in jobs))
    for job in jobs:
        log.write(f"uid {job.uid}: {job.path} from "
                  + ", ".join(f"{len(s)} {kind} slice(s)" for kind, s in job.tracks.items()))
        write(job, options, progress)
    return [job.path for job in jobs]


def _jobs(options: MergeOptions) -> list[Job]:
    sessions = find_sessions(options.folder)
    if not sessions:
        raise ToolError(f"no individual-mode playlists (*__uid_s_*__uid_e_*.m3u8) in "
                        f"{options.folder}")
    if options.uid is not None:
        for session in sessions:
            session.users = {u: user for u, user in session.users.items() if u == options.uid}
        if not any(session.users for session in sessions):
            raise ToolError(f"no files of uid {options.uid} in {options.folder}")
    require_present(s for session in sessions for user in session.users.values()
                    for track in wanted(user, options.mode).values() for s in track)
    return plan(sessions, options)


def write(job: Job, options: MergeOptions, progress: Progress) -> None:
    """Write one output file (under a temporary name until it is complete)."""
    job.path.parent.mkdir(parents=True, exist_ok=True)
    part = job.path.with_name(job.path.name + ".part")
    audio_only = job.path.suffix == ".m4a"
    try:
        with av.open(str(part), "w", format="ipod" if audio_only else "mp4") as container:
            tracks = _tracks(container, job, options)
            for utc, kind, frame in _frames(job, progress):
                at = job.timeline.position(utc)
                if at is not None:
                    tracks[kind].add(frame, at)
            for track in tracks.values():
                track.finish(job.timeline.duration)
    except av.FFmpegError as exc:
        raise ToolError(f"cannot write {job.path}: {exc}") from exc
    part.replace(job.path)


def _tracks(container: OutputContainer, job: Job, options: MergeOptions) -> dict[str, Track]:
    tracks: dict[str, Track] = {}
    if "video" in job.tracks:
        size = options.size or _largest(job.tracks["video"])
        tracks["video"] = PictureTrack(container, options.fps, (_even(size[0]), _even(size[1])))
    if "audio" in job.tracks:
        layout = "stereo" if slice_media.channels(job.tracks["audio"][0]) > 1 else "mono"
        tracks["audio"] = SoundTrack(AudioEncoder(container, "aac", layout), layout)
    return tracks


def _largest(video: list[Slice]) -> tuple[int, int]:
    return max((slice_media.picture_size(s) for s in video), key=lambda wh: wh[0] * wh[1])


def _even(value: int) -> int:
    return max(2, value + value % 2)


def _frames(job: Job, progress: Progress) -> Iterator[tuple[float, str, slice_media.Frame]]:
    """Every frame the job reads, audio and video interleaved in UTC order."""
    streams = [_kind_frames(kind, pieces, progress) for kind, pieces in job.tracks.items()]
    return heapq.merge(*streams, key=lambda item: item[0])


def _kind_frames(kind: str, pieces: list[Slice],
                 progress: Progress) -> Iterator[tuple[float, str, slice_media.Frame]]:
    for piece in pieces:
        for utc, frame in slice_media.frames(piece, kind):
            yield utc, kind, frame
        progress.advance(piece.duration)
