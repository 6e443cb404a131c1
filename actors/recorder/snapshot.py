"""Snapshots (spec §5.3, individual mode): a JPG of each user's video every `captureInterval`.

A user's video is decoded only while snapshots are on (individual mode otherwise remuxes); the
first frame at or after each due time (channel time: the recording's start plus n intervals) is
written as `P<sid>_<cname>__uid_s_<uid>__uid_e_video_<utc17>.jpg`, named by that frame's time
(§13.1), recorded as `SnapshotWritten` and handed to the uploader (callback 45 once uploaded).
While a user sends no video there are no frames, so no snapshots: they pause, and resume at the
next due time once video is back. A failure (a frame the JPG encoder refuses) skips that one
snapshot and never touches the recording (§5.3).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import cast

import av

from cloudrec.actors.channel.packet import MediaPacket, TrackInfo
from cloudrec.actors.recorder.decoder import TrackDecoder
from cloudrec.actors.recorder.ledger import md5_of
from cloudrec.actors.recorder.naming import file_name, track_slice_name
from cloudrec.actors.uploader.uploader import UploadJob
from cloudrec.events.log import EventLog
from cloudrec.events.segment import SnapshotWritten

log = logging.getLogger(__name__)


@dataclass
class _User:
    decoder: TrackDecoder
    due_us: int  # the next snapshot is the first frame at or after this channel time


class Snapshots:
    def __init__(self, sid: str, cname: str, prefix: tuple[str, ...], generation: int,
                 workdir: Path, interval_s: int, origin_us: int, events: EventLog,
                 deliver: Callable[[UploadJob], None]) -> None:
        self.sid, self.cname, self.prefix, self.generation = sid, cname, list(prefix), generation
        self.workdir, self.interval_us, self.origin_us = workdir, interval_s * 1_000_000, origin_us
        self.events, self.deliver = events, deliver
        self.users: dict[int, _User] = {}
        self.taken = 0

    def start(self, track: TrackInfo) -> None:
        """A user's video (re)starts: a fresh decoder, snapshots from the next due time."""
        try:
            decoder = TrackDecoder(track)
        except (av.error.FFmpegError, ValueError) as error:
            log.warning("uid %s: no snapshots, video %s not decodable (%s)", track.uid,
                        track.codec, error)
            return
        self.users[track.uid] = _User(decoder, self.origin_us)

    def stop(self, uid: int) -> None:
        self.users.pop(uid, None)

    def feed(self, packet: MediaPacket) -> None:
        """A good video packet of a user: decoded; a frame that is due becomes a snapshot."""
        user = self.users.get(packet.uid)
        if user is None or user.decoder.track.generation != packet.generation:
            return
        for timed in user.decoder.decode(packet):
            if timed.channel_us < user.due_us:
                continue
            self._take(packet.uid, cast(av.VideoFrame, timed.frame), timed.channel_us)
            behind = (timed.channel_us - self.origin_us) // self.interval_us + 1
            user.due_us = self.origin_us + behind * self.interval_us

    def _take(self, uid: int, frame: av.VideoFrame, at_us: int) -> None:
        at_ms = at_us // 1000
        key = track_slice_name(self.prefix, self.sid, self.cname, uid, "video", at_ms,
                               extension="jpg")
        path = self.workdir / "snapshots" / file_name(key)
        try:
            size = write_jpg(frame, path)
        except (av.error.FFmpegError, ValueError, OSError) as error:
            log.warning("uid %s: snapshot at %d skipped (%s)", uid, at_ms, error)
            return
        self.taken += 1
        self.events.append([SnapshotWritten(
            stream_id=self.sid, at_ms=at_ms, generation=self.generation, key=key,
            stream_uid=str(uid), start_ms=at_ms, width=frame.width, height=frame.height,
            size=size)])
        self.deliver(UploadJob(sid=self.sid, generation=self.generation, key=key, path=path,
                               kind="snapshot", md5=md5_of(path)))


def write_jpg(frame: av.VideoFrame, path: Path) -> int:
    """One frame as a baseline JPG at its own size; returns the file's size."""
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = frame.width - frame.width % 2, frame.height - frame.height % 2
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    encoder.options = {"qmin": "2", "qmax": "5"}
    image = frame.reformat(width=encoder.width, height=encoder.height, format="yuvj420p")
    image.pts = 0
    data = b"".join(bytes(p) for p in [*encoder.encode(image), *encoder.encode(None)])
    if not data:
        raise ValueError("the JPG encoder gave nothing")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return len(data)
