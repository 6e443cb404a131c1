"""Object keys of mix-mode output files (recording-api.md §13.1).

`P<sid>_<cname>.m3u8`, `P<sid>_<cname>_<utc17>.ts`, `P<sid>_<cname>_<index>.mp4`, where `P` is the
joined `fileNamePrefix` plus `/`; after fail-over `n` every new file name starts with `bak<n>_`.
Slice URIs inside a playlist are the bare file names (`file_name`).
"""

from __future__ import annotations

from .timebase import utc17


def playlist_name(prefix: list[str], sid: str, cname: str, failover: int | None = None) -> str:
    return _key(prefix, f"{sid}_{cname}.m3u8", failover)


def slice_name(
    prefix: list[str], sid: str, cname: str, start_ms: int, failover: int | None = None
) -> str:
    return _key(prefix, f"{sid}_{cname}_{utc17(start_ms)}.ts", failover)


def mp4_name(
    prefix: list[str], sid: str, cname: str, index: int, failover: int | None = None
) -> str:
    return _key(prefix, f"{sid}_{cname}_{index}.mp4", failover)


def file_name(key: str) -> str:
    """The bare file name of an object key (what a playlist lists)."""
    return key.rsplit("/", 1)[-1]


def _key(prefix: list[str], name: str, failover: int | None) -> str:
    if failover is not None:
        name = f"bak{failover}_{name}"
    return "/".join([*prefix, name])
