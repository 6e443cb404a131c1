"""Object keys of the output files (recording-api.md §13.1).

Mix: `P<sid>_<cname>.m3u8`, `P<sid>_<cname>_<utc17>.ts`, `P<sid>_<cname>_<index>.mp4`; individual:
`P<sid>_<cname>__uid_s_<uid>__uid_e_<audio|video>.m3u8` and `..._<utc17>.ts` (`.webm` for a VP8 or
VP9 video, which a TS cannot carry), where `P` is the joined `fileNamePrefix` plus `/`; after
fail-over `n` every new file name starts with `bak<n>_`. A playlist lists its slices by their bare
file names (`file_name`), percent-encoded into URIs (`playlist.segment_uri`); names and keys
themselves are never encoded.
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


def track_playlist_name(
    prefix: list[str], sid: str, cname: str, uid: int, kind: str, failover: int | None = None
) -> str:
    """Individual mode: the playlist of one user's audio or video."""
    return _key(prefix, f"{_track(sid, cname, uid, kind)}.m3u8", failover)


def track_slice_name(
    prefix: list[str], sid: str, cname: str, uid: int, kind: str, start_ms: int,
    failover: int | None = None, extension: str = "ts",
) -> str:
    """Individual mode: one slice of one user's audio or video, named by its start;
    `extension` is its container's (`ts`, or `webm` for VP8/VP9)."""
    name = f"{_track(sid, cname, uid, kind)}_{utc17(start_ms)}.{extension}"
    return _key(prefix, name, failover)


def _track(sid: str, cname: str, uid: int, kind: str) -> str:
    if kind not in ("audio", "video"):
        raise ValueError(f"kind must be audio or video, not {kind!r}")
    return f"{sid}_{cname}__uid_s_{uid}__uid_e_{kind}"


def file_name(key: str) -> str:
    """The bare file name of an object key (what a playlist lists, as a URI)."""
    return key.rsplit("/", 1)[-1]


def _key(prefix: list[str], name: str, failover: int | None) -> str:
    if failover is not None:
        name = f"bak{failover}_{name}"
    return "/".join([*prefix, name])
