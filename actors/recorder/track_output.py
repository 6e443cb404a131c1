"""Individual mode: one user's audio or video, remuxed as published, into slices + a playlist.

Slices are TS, except VP8/VP9 video, which a TS cannot carry: WebM slices (`webm`, §13.4).

No decoding and no re-encoding: each packet's bytes go into the current slice as they came (the
TS muxer only adds its framing: an access-unit delimiter before H.264; raw AAC gets the ADTS
header a TS needs from its AudioSpecificConfig).

One clock (media-timing.md): TS time = channel time − recording start + `TS_OFFSET`, the same for
every track of the session, so a player lines a user's audio and video up from the pts alone, and
the `TIME=` of a START tag is the channel time of the pts that follows it.

A sender that changes its picture size mid-stream (a key frame with new parameter sets) is cut
there: a discontinuity and the new size (`#EXT-X-AGORA-ROTATE`) before the next slice
(`picture_size`).

Cuts (§13.3): video on the first key frame once a slice holds `slice_seconds`, audio at the first
packet once it does; both when the stream stops; a TS slice also at 5.5 min or 50 MB (never a WebM
one). A stream that comes back more than 15 s later starts a new "segment": `#EXT-X-DISCONTINUITY`
and a new START tag in the same playlist; one that comes back sooner continues its segment (a
discontinuity only if its codec or size changed).
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.container import OutputContainer
from av.stream import Stream

from cloudrec.actors.channel.packet import Kind, MediaPacket, TrackInfo

from .files import FileKind, FileWritten, OnFile, local_path, replace_text
from .hls import FLUSHED, MIN_LAST_SLICE, TS_OFFSET, pad_for_probing
from .naming import file_name, track_playlist_name, track_slice_name
from .picture_size import Size, key_frame_size
from .playlist import Playlist
from .timebase import convert
from .webm import WEBM_CODECS, WebmSlice

TS_TIME_BASE = Fraction(1, 90_000)
OFFSET_TICKS = convert(TS_OFFSET, Fraction(1), TS_TIME_BASE)
SEGMENT_GAP_US = 15_000_000  # §13.3: a stream back within 15 s continues its segment
TS_CODECS = frozenset({"h264", "hevc", "aac", "opus", "mp3"})
RECORDABLE = {"audio": TS_CODECS, "video": TS_CODECS | WEBM_CODECS}  # what a slice can carry
DEFAULT_STEP_US = {"audio": 20_000, "video": 66_667}  # a packet's length before two are seen
MIN_LAST_SLICE_US = convert(MIN_LAST_SLICE, Fraction(1), Fraction(1, 1_000_000))
FORCED_CUT_US, FORCED_CUT_BYTES = 330_000_000, 50 * 1024 * 1024  # §13.3: 5.5 min or 50 MB


@dataclass(frozen=True)
class TrackTarget:
    """Where one (uid, kind) of a session goes, and the session's common clock."""

    workdir: Path
    sid: str
    cname: str
    prefix: tuple[str, ...]
    uid: int
    kind: Kind
    start_us: int  # recording start on the channel clock: TS time TS_OFFSET
    slice_seconds: float = 15.0
    failover: int | None = None  # n of `bak<n>_` slices after the n-th failover
    continue_playlist: str | None = None  # the playlist so far, after a failover
    resume_us: int | None = None  # ... and the channel time its last good slice ended

    @property
    def playlist_key(self) -> str:
        """The original name in every generation: a failover continues it (decision 11)."""
        return track_playlist_name(list(self.prefix), self.sid, self.cname, self.uid, self.kind)

    def slice_key(self, start_ms: int, extension: str = "ts") -> str:
        return track_slice_name(list(self.prefix), self.sid, self.cname, self.uid, self.kind,
                                start_ms, self.failover, extension)

    def path(self, key: str) -> Path:
        return local_path(self.workdir, key)

    def ts(self, channel_us: int) -> int:
        """TS timestamp (90 kHz) of a channel time: `convert` from µs, in integers (this runs
        twice per packet, and `Fraction` arithmetic was most of the core's CPU time)."""
        ticks, rest = divmod(9 * (channel_us - self.start_us), 100)  # µs * 90000 / 10**6
        if rest > 50 or (rest == 50 and ticks % 2):  # round half to even, as `convert`
            ticks += 1
        return ticks + OFFSET_TICKS


class TsSlice:
    """One open TS file holding one stream, muxed without a codec context."""

    forced_cut = True  # §13.3: cut at 5.5 min or 50 MB even without a key frame

    def __init__(self, target: TrackTarget, track: TrackInfo, start_us: int) -> None:
        self.start_us = self.end_us = start_us
        self.key = target.slice_key(start_us // 1000)
        self.path = target.path(self.key)
        self._container: OutputContainer = av.open(str(self.path), "w", format="mpegts",
                                                    options=FLUSHED)
        self._stream = _mux_stream(self._container, track)
        self._asc = track.extradata if track.codec == "aac" else None
        self.size = 0  # payload bytes written so far

    def write(self, packet: MediaPacket, ts: int, dts: int, end_us: int) -> None:
        data = packet.data
        if self._asc and data[:2] not in (b"\xff\xf1", b"\xff\xf9"):
            data = adts_header(self._asc, len(data)) + data
        muxed = av.Packet(data)
        muxed.pts, muxed.dts = ts, dts
        muxed.time_base = TS_TIME_BASE
        muxed.is_keyframe = packet.keyframe
        muxed.stream = self._stream
        self._container.mux(muxed)
        self.size += len(data)
        self.end_us = max(self.end_us, end_us)  # B-frames come after the frames they precede

    def close(self, end_us: int | None = None) -> float:
        """Close the file; its duration in seconds (to `end_us`, else its last packet's end)."""
        self._container.close()
        pad_for_probing(self.path)
        if end_us is not None:
            self.end_us = end_us
        return (self.end_us - self.start_us) / 1_000_000


def _open_slice(target: TrackTarget, track: TrackInfo, start_us: int) -> TsSlice | WebmSlice:
    if track.kind == "video" and track.codec in WEBM_CODECS:
        return WebmSlice(target, track, start_us)
    return TsSlice(target, track, start_us)


def _mux_stream(container: OutputContainer, track: TrackInfo) -> Stream:
    if track.kind == "video":
        stream = container.add_mux_stream(track.codec, width=track.width, height=track.height)
    elif track.codec == "opus" and track.channels in (1, 2):
        template = _opus_template(track.sample_rate or 48_000, track.channels)
        stream = container.add_stream_from_template(template, opaque=True)
    else:
        stream = container.add_mux_stream(track.codec, rate=track.sample_rate or None)
    stream.time_base = TS_TIME_BASE
    return stream


@functools.cache
def _opus_template(sample_rate: int, channels: int) -> Stream:
    """An Opus stream that knows its channel count, for the TS muxer's Opus descriptor.

    A bare mux stream has no channel layout, so the TS would say nothing and players would
    decode mono as stereo; PyAV copies the layout only from a stream it has read. So: one
    silent Opus frame in an in-memory Ogg file, read back (kept open for the process's life).
    """
    layout = "mono" if channels == 1 else "stereo"
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="ogg") as ogg:
        encoder = ogg.add_stream("libopus", rate=sample_rate, layout=layout)
        silence = av.AudioFrame.from_ndarray(np.zeros((1, 960 * channels), np.int16),
                                             format="s16", layout=layout)
        silence.sample_rate, silence.pts = sample_rate, 0
        for packet in [*encoder.encode(silence), *encoder.encode(None)]:
            ogg.mux(packet)
    buffer.seek(0)
    return av.open(buffer).streams.audio[0]


def _format_of(track: TrackInfo) -> tuple[object, ...]:
    """What a playlist marks with a discontinuity when it changes."""
    return (track.codec, track.width, track.height, track.rotation, track.sample_rate,
            track.channels)


def adts_header(asc: bytes, payload: int) -> bytes:
    """The 7-byte ADTS header of a raw AAC frame of `payload` bytes (ISO 14496-3 1.A.2)."""
    profile = (asc[0] >> 3) - 1
    rate = ((asc[0] & 0x07) << 1) | (asc[1] >> 7)
    channels = (asc[1] >> 3) & 0x0F
    size = payload + 7
    return bytes([0xFF, 0xF1, (profile & 3) << 6 | rate << 2 | channels >> 2,
                  (channels & 3) << 6 | size >> 11, (size >> 3) & 0xFF, (size & 7) << 5 | 0x1F,
                  0xFC])


class TrackOutput:
    """The slices and the playlist of one user's audio or video."""

    def __init__(self, target: TrackTarget, on_file: OnFile) -> None:
        self.target = target
        self.playlist = Playlist()
        if target.continue_playlist is not None:  # a later generation: a cut, then its slices
            self.playlist = Playlist.parse(target.continue_playlist)
            self.playlist.add_discontinuity()
        self._on_file = on_file
        self._track: TrackInfo | None = None
        self._format: tuple[object, ...] | None = None
        self._slice: TsSlice | WebmSlice | None = None
        self._pending_start = False
        self._last_us: int | None = None  # channel (decode) time of the last packet written
        self._step_us = DEFAULT_STEP_US[target.kind]
        self.first_start_ms: int | None = None
        self.ends_at_us: int | None = None  # channel time the recording ends, once known
        self._resume_us = target.resume_us  # packets before it were recorded already
        self._held: list[MediaPacket] = []

    def start(self, track: TrackInfo) -> None:
        """The stream (re)started: its first usable packet opens a slice."""
        self.stop()
        self._track, self._pending_start = track, True

    def stop(self, ended: bool = False) -> None:
        """The stream stopped (unpublished, unsubscribed): its slice ends with its last packet."""
        self._track = None
        self._close_slice(ended=ended)

    def write(self, packet: MediaPacket) -> int | None:
        """Mux one packet; the START time (UTC ms) if it began a segment, else None.

        After a failover, packets before the resume point were recorded by the generation
        before: audio from there on, video from the key frame at or before it (no gap)."""
        if self._resume_us is not None and packet.channel_us < self._resume_us:
            self._hold(packet)
            return None
        backlog = [] if packet.keyframe else self._held
        self._held, self._resume_us = [], None
        started = None
        for earlier in [*backlog, packet]:
            began = self._write_one(earlier)
            started = began if started is None else started
        return started

    def _hold(self, packet: MediaPacket) -> None:
        if self.target.kind != "video":
            return
        if packet.keyframe:
            self._held = [packet]
        elif self._held:
            self._held.append(packet)

    def _write_one(self, packet: MediaPacket) -> int | None:
        if not self._accepts(packet):
            return None
        at_us, decode_us = packet.channel_us, packet.decode_us
        started = self._begin(at_us) if self._pending_start else None
        resized = self._resized_to(packet)
        if resized is not None or self._due(packet, at_us):
            self._close_slice(end_us=at_us)
        if resized is not None:
            self._mark_size(resized, at_us)
        if self._slice is None:
            assert self._track is not None
            self._slice = _open_slice(self.target, self._track, at_us)
        if self._last_us is not None and 0 < decode_us - self._last_us < SEGMENT_GAP_US:
            self._step_us = decode_us - self._last_us
        self._last_us = decode_us
        self._slice.write(packet, self.target.ts(at_us), self.target.ts(decode_us),
                          at_us + self._step_us)
        return started

    def close(self) -> None:
        """The recording ends: the last slice, then the playlist with ENDLIST (if it has any)."""
        had_slice = self._slice is not None
        self.stop(ended=True)
        if self.playlist.segments and not had_slice:
            self._write_playlist(ended=True)

    def _accepts(self, packet: MediaPacket) -> bool:
        track = self._track
        if track is None or packet.generation != track.generation:
            return False
        if packet.channel_us < self.target.start_us:
            return False  # before the recording started (a recorder replays what it missed)
        if self._last_us is not None and packet.decode_us <= self._last_us:
            return False  # not after the last one: a TS needs increasing decode times
        return not (self._pending_start and self.target.kind == "video" and not packet.keyframe)

    def _begin(self, at_us: int) -> int | None:
        """Start a stream run at `at_us`: tags for the playlist's next segment."""
        assert self._track is not None
        self._pending_start = False
        track = self._track
        fmt = _format_of(track)
        new_segment = self._last_us is None or at_us - self._last_us > SEGMENT_GAP_US
        if self._last_us is not None and (new_segment or fmt != self._format):
            self.playlist.add_discontinuity()
        resized = self._format is None or fmt[1:4] != self._format[1:4]  # or turned
        if track.kind == "video" and track.width and resized:  # the stream's first size, or new
            self.playlist.mark_rotation(track.width, track.height, track.rotation,
                                        at_us // 1000)
        self._format = fmt
        if not new_segment:
            return None
        at_ms = at_us // 1000
        self.playlist.mark_track_start(self.target.kind.upper(), at_ms)
        if self.first_start_ms is None:
            self.first_start_ms = at_ms
        return at_ms

    def _resized_to(self, packet: MediaPacket) -> Size | None:
        """The new picture size of a key frame that changes it mid-stream, else None."""
        track = self._track
        if track is None or self._slice is None or not packet.keyframe or not track.width:
            return None  # not video, no slice yet, or a track that never said its size
        size = key_frame_size(track, packet)
        return size if size is not None and size != (track.width, track.height) else None

    def _mark_size(self, size: Size, at_us: int) -> None:
        """The stream goes on in another size: a cut, a discontinuity and the new size (§13.2)."""
        assert self._track is not None
        self._track = replace(self._track, width=size[0], height=size[1])
        self._format = _format_of(self._track)
        self.playlist.add_discontinuity()
        self.playlist.mark_rotation(*size, self._track.rotation, at_us // 1000)

    def _due(self, packet: MediaPacket, at_us: int) -> bool:
        if self._slice is None:
            return False
        length_us = at_us - self._slice.start_us
        if self._slice.forced_cut and (length_us >= FORCED_CUT_US
                                       or self._slice.size >= FORCED_CUT_BYTES):
            return True  # §13.3: H.264 is cut at 5.5 min or 50 MB even without a key frame
        if self.target.kind == "video" and not packet.keyframe:
            return False
        if self.ends_at_us is not None and self.ends_at_us - at_us < MIN_LAST_SLICE_US:
            return False  # the recording ends within the next second: no tiny last slice
        return length_us >= self.target.slice_seconds * 1_000_000

    def _close_slice(self, end_us: int | None = None, ended: bool = False) -> None:
        if self._slice is None:
            return
        done, self._slice = self._slice, None
        duration = done.close(end_us)
        index = len(self.playlist.segments)
        self.playlist.add_segment(file_name(done.key), duration)
        self._emit("slice", done.path, done.key, done.start_us // 1000, duration, index)
        self._write_playlist(ended)

    def _write_playlist(self, ended: bool) -> None:
        key = self.target.playlist_key
        path = self.target.path(key)
        replace_text(path, self.playlist.render(ended))
        self._emit("playlist", path, key, self.first_start_ms or 0, self.playlist.duration,
                   len(self.playlist.segments))

    def _emit(self, kind: FileKind, path: Path, key: str, start_ms: int, duration: float,
              index: int) -> None:
        self._on_file(FileWritten(kind, path, key, start_ms, duration, index, path.stat().st_size))
