"""What the output side is configured with, and what it reports for every file it finishes."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

from .timebase import MILLISECONDS, convert

FileKind = Literal["slice", "playlist", "mp4", "snapshot"]


@dataclass
class OutputConfig:
    """A mix recording's output (§5.1 transcodingConfig/audioProfile, §5.2 avFileType)."""

    workdir: Path
    sid: str
    cname: str
    start_ms: int  # channel time (UTC ms) at which the recording starts: output pts 0
    prefix: list[str]
    width: int = 360
    height: int = 640
    fps: int = 15
    bitrate_kbps: int = 500
    audio_profile: int = 0
    av_file_types: tuple[str, ...] = ("hls",)
    slice_seconds: float = 15.0
    failover: int | None = None  # n of `bak<n>_` after the n-th fail-over
    continue_playlist: str | None = None  # text of the playlist to continue after a fail-over
    mp4_first_index: int = 0  # a later generation numbers its MP4 parts on
    mp4_max_seconds: float = 2 * 3600.0
    mp4_max_bytes: int = 2 * 1024**3

    def utc_ms(self, at: Fraction) -> int:
        """UTC ms of recording time `at` (seconds)."""
        return self.start_ms + convert(at, Fraction(1), MILLISECONDS)

    def path(self, key: str) -> Path:
        return local_path(self.workdir, key)


def local_path(workdir: Path, key: str) -> Path:
    """Where the object `key` is written locally, its folders made."""
    path = workdir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def replace_text(path: Path, text: str) -> None:
    """Write `text` to `path` in one step: the uploader never reads a half-written playlist."""
    partial = path.with_name(path.name + ".part")
    partial.write_text(text)
    os.replace(partial, path)


@dataclass(frozen=True)
class FileWritten:
    kind: FileKind
    path: Path
    key: str  # object key, prefix included
    start_ms: int
    duration_s: float
    index: int  # slice / MP4 number from 0; for the playlist, its number of segments
    size: int


OnFile = Callable[[FileWritten], None]
