"""Events of the media a recorder produces (stream id = sid)."""

from __future__ import annotations

from typing import Literal

from cloudrec.events.envelope import Event

TrackType = Literal["audio", "video", "audio_and_video"]


class StreamStateChanged(Event):
    """The recorder started (0) or stopped (1) receiving a stream; `stream_uid` "0" = the mix."""

    type: Literal["StreamStateChanged"] = "StreamStateChanged"
    track: Literal["audio", "video"]
    stream_uid: str
    state: int
    utc_ms: int


class SliceStarted(Event):
    """The first slice of a stream began (again after a recovery: `discontinue_ms` < `start_ms`)."""

    type: Literal["SliceStarted"] = "SliceStarted"
    start_ms: int
    discontinue_ms: int
    track_type: TrackType = "audio_and_video"
    stream_uid: str = "0"


class SliceWritten(Event):
    """An HLS slice is complete on local disk."""

    type: Literal["SliceWritten"] = "SliceWritten"
    key: str
    index: int
    start_ms: int
    duration_s: float
    size: int


class SnapshotWritten(Event):
    """A JPG of one user's video is on local disk (individual mode's snapshots, §5.3); named
    and timed by the frame it shows (`start_ms`, channel time)."""

    type: Literal["SnapshotWritten"] = "SnapshotWritten"
    key: str
    stream_uid: str
    start_ms: int
    width: int
    height: int
    size: int


class FileSalvaged(Event):
    """A file a failed generation left half-written was completed from what it had written
    (by the generation after it): a `SliceWritten` of the failed generation, in effect."""

    type: Literal["FileSalvaged"] = "FileSalvaged"
    key: str
    kind: Literal["slice", "mp4"]
    from_generation: int
    index: int
    start_ms: int
    duration_s: float
    size: int


class FileDropped(Event):
    """A file a failed generation left half-written could not be completed; its media is
    recorded again from the channel's history where that still reaches back."""

    type: Literal["FileDropped"] = "FileDropped"
    key: str
    kind: Literal["slice", "mp4"]
    from_generation: int
    reason: str


class PlaylistWritten(Event):
    """The m3u8 was rewritten with `segments` slices (`ended` once ENDLIST is in it)."""

    type: Literal["PlaylistWritten"] = "PlaylistWritten"
    key: str
    segments: int
    ended: bool = False


class Mp4Written(Event):
    type: Literal["Mp4Written"] = "Mp4Written"
    key: str
    index: int
    start_ms: int
    duration_s: float
    size: int


class TrackPlaylistStarted(Event):
    """Individual mode: the playlist of one user's audio or video got its first slice.

    `key` is the playlist's object key, `start_ms` the channel time of the stream's start (its
    first START tag): the `sliceStartTime` of the file's `query` entry.
    """

    type: Literal["TrackPlaylistStarted"] = "TrackPlaylistStarted"
    key: str
    stream_uid: str
    track: Literal["audio", "video"]
    start_ms: int


Problem = Literal["undecodable", "unwritable", "empty", "backwards", "future", "undecryptable"]


class MediaCorrupted(Event):
    """A user's stream sent packets the recorder had to skip, in one burst (spec §15 event 2).

    A burst ends once the stream went on for a while free of bad packets (or stopped, or the
    recording ended): one event per burst, never per packet. `first_ms`/`last_ms` are the
    stream's position (channel clock, ms) at the first and last bad packets, so two bursts
    stay two however late the publisher sent them; `problems` names what was wrong:
    undecodable (mix), unwritable (the remuxer refused it), empty, backwards (a decode time not
    after the one before), future (stamped far ahead of the channel clock) or undecryptable
    (the session's decryptionMode and secret cannot open it: another key or mode)."""

    type: Literal["MediaCorrupted"] = "MediaCorrupted"
    uid: int
    track: Literal["audio", "video"]
    packets: int
    first_ms: int
    last_ms: int
    problems: list[Problem]


class TrackNotRecorded(Event):
    """A user's stream the recorder was asked for but cannot record (spec §15 event 2), reported
    once per published track: its codec fits no container of the mode (individual mode writes
    TS, or WebM for VP8/VP9 video). The rest of the recording goes on without it."""

    type: Literal["TrackNotRecorded"] = "TrackNotRecorded"
    uid: int
    track: Literal["audio", "video"]
    codec: str
