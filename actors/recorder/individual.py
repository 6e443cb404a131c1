"""The individual-mode recorder core: every subscribed user's audio and video, each remuxed into
its own HLS recording (spec §16, §13.1-13.3). No decoding, no Ray here.

The same interface as the composite core (`Recorder`), which the actor shell drives:
`receive(batch)` follows the channel's tracks (a stream no longer published or wanted is closed,
a new or republished one is started) and queues its packets; `render(now_us)` reports the
receiving/not-receiving transitions (43/44) and writes the queued packets into their tracks;
`finish(now_us)` closes every file. Each track's playlist is announced (`TrackPlaylistStarted`,
`SliceStarted` per stream) before its first file is recorded; files go through the `FileLedger`
(event first, then upload) like the composite recorder's. A wanted stream whose codec no slice can
carry (TS, or WebM for VP8/VP9 video) is left out with one `TrackNotRecorded` warning, never
silently. With snapshots on (§5.3) each user's video is also decoded for a JPG every interval
(`snapshot.Snapshots`); snapshots only (`record_files` False) writes no audio or video files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

import av

from cloudrec.actors.channel.channel import Batch
from cloudrec.actors.channel.packet import MediaPacket, TrackInfo
from cloudrec.actors.recorder.config import RecordingConfig, Subscription
from cloudrec.actors.recorder.corruption import CorruptionReport, PacketCheck
from cloudrec.actors.recorder.decryption import Decryption
from cloudrec.actors.recorder.idle import IdleClock
from cloudrec.actors.recorder.ledger import FileLedger
from cloudrec.actors.recorder.resume import Resume
from cloudrec.actors.recorder.snapshot import Snapshots
from cloudrec.actors.recorder.streams import StreamKey, StreamStates
from cloudrec.actors.recorder.track_output import RECORDABLE, TrackOutput, TrackTarget
from cloudrec.actors.uploader.uploader import UploadJob
from cloudrec.events.layout import Layout
from cloudrec.events.log import EventLog
from cloudrec.events.segment import SliceStarted, TrackNotRecorded, TrackPlaylistStarted

log = logging.getLogger(__name__)
AUDIO_ONLY, VIDEO_ONLY = 0, 1


class IndividualRecorder:
    def __init__(self, config: RecordingConfig, events: EventLog,
                 deliver: Callable[[UploadJob], None], t0_us: int,
                 resume: Resume | None = None) -> None:
        self.config = config
        self.events = events
        self.t0_us = t0_us - t0_us % 1000  # whole ms, as the composite core
        # after a failover the TS clock stays the recording's; new playlists are bak<n>_ ones
        self.origin_us = resume.origin_ms * 1000 if resume else self.t0_us
        self.resumed = dict(resume.tracks) if resume else {}  # playlists to continue
        self.audio, self.video = config.audio, config.video
        self.members: list[int] = []
        self.tracks: dict[StreamKey, TrackInfo] = {}
        self.outputs: dict[StreamKey, TrackOutput] = {}
        self.checks: dict[StreamKey, PacketCheck] = {}
        self.corruption = CorruptionReport(config.sid, config.generation, self.checks)
        self.decryption = Decryption(config.decryption_mode, config.media_key)
        self.clock_us: int | None = None  # the last render's time: how late packets may be
        self.queued: list[MediaPacket] = []
        self.ledger = FileLedger(config, events, deliver)
        self.streams = StreamStates(config.sid, config.generation)
        if resume is not None:  # streams reported by the generation before: no repeated 43/44
            self.streams.receiving = {(uid, kind) for uid, kind in resume.receiving}  # type: ignore[misc]
        self.idle = IdleClock(config.channel_type, config.recorder_uid, t0_us)
        self.left_out: set[tuple[int, str, str]] = set()  # (uid, kind, codec) reported
        self.snapshots = Snapshots(
            config.sid, config.cname, config.file_prefix, config.generation,
            config.workdir, config.snapshot_interval_s, self.origin_us, events, deliver,
        ) if config.snapshot_interval_s else None
        self.unreported: list[TrackInfo] = []  # left out, warned about at the next render

    # -- input ---------------------------------------------------------------------------
    def receive(self, batch: Batch) -> None:
        self.members = list(batch.members)
        self.idle.observe(batch)
        self._sync_tracks(batch.tracks, batch.packets)
        self.queued += batch.packets

    def set_subscription(self, audio: Subscription, video: Subscription) -> None:
        """Replace the allow/deny rules; the next `receive` closes and starts tracks to match."""
        self.audio, self.video = audio, video

    def set_layout(self, layout: Layout) -> None:
        """Nothing to lay out: each stream is its own recording."""

    def _sync_tracks(self, tracks: list[TrackInfo], packets: list[MediaPacket]) -> None:
        """Close streams that ended (after their packets in this batch), start new ones."""
        current = {(t.uid, t.kind): t for t in tracks if self._wants(t)}
        for key in set(self.tracks) - set(current):
            self._drain(key, packets)
            del self.tracks[key]
            if key in self.outputs:
                self.outputs[key].stop()
            if self.snapshots is not None and key[1] == "video":
                self.snapshots.stop(key[0])
        for key, track in current.items():
            known = self.tracks.get(key)
            if known is None or known.generation != track.generation:
                if known is not None:
                    self._drain(key, packets)
                self.tracks[key] = track
                self.checks[key] = PacketCheck()
                if self.config.record_files:
                    self._output(key).start(track)
                if self.snapshots is not None and key[1] == "video":
                    self.snapshots.start(track)

    def _drain(self, key: StreamKey, packets: list[MediaPacket]) -> None:
        """Write what is queued or in hand for a stream about to stop or restart."""
        mine = [p for p in [*self.queued, *packets] if (p.uid, p.kind) == key]
        for packet in mine:
            self._write(packet)

    def _wants(self, track: TrackInfo) -> bool:
        if track.uid == self.config.recorder_uid:
            return False
        blocked = VIDEO_ONLY if track.kind == "audio" else AUDIO_ONLY
        rule = self.audio if track.kind == "audio" else self.video
        if self.config.stream_types == blocked or not rule.wants(track.uid):
            return False
        if not self.config.record_files:  # snapshots only: every decodable video
            return track.kind == "video"
        if track.codec not in RECORDABLE[track.kind]:
            self._leave_out(track)
            return False
        return True

    def _leave_out(self, track: TrackInfo) -> None:
        """A wanted track no slice can carry: warned about once, not dropped silently."""
        if (key := (track.uid, track.kind, track.codec)) not in self.left_out:
            log.warning("uid %s %s: %s cannot be recorded in individual mode", *key)
            self.left_out.add(key)
            self.unreported.append(track)

    def _output(self, key: StreamKey) -> TrackOutput:
        if key not in self.outputs:
            c = self.config
            target = TrackTarget(workdir=c.workdir, sid=c.sid, cname=c.cname,
                                 prefix=c.file_prefix, uid=key[0], kind=key[1],
                                 start_us=self.origin_us, slice_seconds=c.slice_seconds,
                                 failover=c.generation - 2 if c.generation > 1 else None)
            if (resumed := self.resumed.get(target.playlist_key)) is not None:
                target = replace(target, continue_playlist=resumed.playlist,
                                 resume_us=resumed.discontinue_ms * 1000)
            self.outputs[key] = TrackOutput(target, self.ledger.on_file)
        return self.outputs[key]

    # -- output --------------------------------------------------------------------------
    def render(self, now_us: int) -> None:
        """Report stream state changes, then write every packet received so far."""
        self.clock_us = now_us
        self.idle.tick(now_us)
        if changed := self.streams.update(self.tracks, now_us // 1000):
            self.events.append(changed)
        if corrupted := self.corruption.tick(now_us):
            self.events.append(corrupted)
        if self.unreported:
            self.events.append(self._not_recorded(now_us // 1000))
        queued, self.queued = self.queued, []
        for packet in queued:
            self._write(packet)

    def _not_recorded(self, at_ms: int) -> list[TrackNotRecorded]:
        c, tracks, self.unreported = self.config, self.unreported, []
        return [TrackNotRecorded(stream_id=c.sid, at_ms=at_ms, generation=c.generation,
                                 uid=t.uid, track=t.kind, codec=t.codec) for t in tracks]

    def _write(self, packet: MediaPacket) -> None:
        key = (packet.uid, packet.kind)
        track = self.tracks.get(key)
        if track is None or track.generation != packet.generation:
            return
        if (opened := self.decryption.open(packet)) is None:
            self.corruption.note(key, "undecryptable", self.checks[key].where(packet))
            return
        packet = opened
        if problem := self.checks[key].problem(packet, self.clock_us):
            self.corruption.note(key, problem, self.checks[key].where(packet))
            return
        if self.snapshots is not None and packet.kind == "video":
            self.snapshots.feed(packet)
        if not self.config.record_files:
            return
        output = self.outputs[key]
        first = output.first_start_ms is None
        try:
            started = output.write(packet)
        except (av.error.FFmpegError, ValueError):
            self.corruption.note(key, "unwritable", self.checks[key].where(packet))
            return
        if started is not None and first:
            self._announce(output, started)

    def _announce(self, output: TrackOutput, start_ms: int) -> None:
        target, c = output.target, self.config
        uid = str(target.uid)
        self.events.append([
            TrackPlaylistStarted(stream_id=c.sid, at_ms=start_ms, generation=c.generation,
                                 key=target.playlist_key, stream_uid=uid, track=target.kind,
                                 start_ms=start_ms),
            SliceStarted(stream_id=c.sid, at_ms=start_ms, generation=c.generation,
                         start_ms=start_ms, discontinue_ms=self._cut_at(target, start_ms),
                         track_type=target.kind, stream_uid=uid),
        ])

    def _cut_at(self, target: TrackTarget, start_ms: int) -> int:
        """42's discontinueUtcMs: where the stream's last good slice ended, after a failover."""
        resumed = self.resumed.get(target.playlist_key)
        return resumed.discontinue_ms if resumed is not None else start_ms

    def idle_for_s(self, now_us: int) -> float:
        return self.idle.idle_for_s(now_us)

    # -- lifecycle -----------------------------------------------------------------------
    def finish(self, now_us: int) -> None:
        """Write what was received, close every file (last slices, playlists with ENDLIST)."""
        for output in self.outputs.values():
            output.ends_at_us = now_us
        self.render(now_us)
        self.ledger.closing = True
        for output in self.outputs.values():
            output.close()
        self.events.append([*self.corruption.close(now_us), *self.streams.close(now_us // 1000)])
