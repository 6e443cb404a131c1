"""The recorder core: channel batches in, a composite recording out (no Ray here).

One generation of one session. `receive(batch)` decodes the subscribed tracks; `render(now_us)`
runs the composite output clock up to `now - jitter`: one picture every 1/fps of channel time
(each region shows its user's newest frame not after that time) and the audio mix on the same
clock. Files finished by the output are recorded as events and handed to `deliver` (upload).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from cloudrec.actors.channel.channel import Batch, TrackKey
from cloudrec.actors.channel.packet import MediaPacket, TrackInfo
from cloudrec.actors.layout.compositor import Compositor
from cloudrec.actors.layout.geometry import CustomRegion, Region, regions, to_pixels
from cloudrec.actors.recorder.audio import AudioTimeline
from cloudrec.actors.recorder.config import RecordingConfig, Subscription
from cloudrec.actors.recorder.corruption import CorruptionReport, PacketCheck
from cloudrec.actors.recorder.decoder import TrackDecoder
from cloudrec.actors.recorder.decryption import Decryption
from cloudrec.actors.recorder.idle import IdleClock
from cloudrec.actors.recorder.images import ImageStore
from cloudrec.actors.recorder.ledger import FileLedger
from cloudrec.actors.recorder.loss import LossGate
from cloudrec.actors.recorder.mixer import AudioMixer
from cloudrec.actors.recorder.output import OutputConfig
from cloudrec.actors.recorder.placeholder import Placeholders
from cloudrec.actors.recorder.resume import Resume
from cloudrec.actors.recorder.sink import ThreadedOutput
from cloudrec.actors.recorder.streams import StreamStates
from cloudrec.actors.recorder.video import PictureBuffer
from cloudrec.actors.uploader.uploader import UploadJob
from cloudrec.events.layout import Layout, LayoutImageFailed
from cloudrec.events.log import EventLog
from cloudrec.events.segment import SliceStarted, StreamStateChanged

log = logging.getLogger(__name__)


class Recorder:
    def __init__(self, config: RecordingConfig, events: EventLog,
                 deliver: Callable[[UploadJob], None], t0_us: int,
                 resume: Resume | None = None, images: ImageStore | None = None) -> None:
        self.config = config
        self.events = events
        self.resume = resume  # a later generation continues the recording (failover)
        self.t0_us = t0_us - t0_us % 1000  # whole ms: slice names and sliceStartTime agree
        self.layout = config.layout
        self.members: list[int] = []
        self.tracks: dict[TrackKey, TrackInfo] = {}
        self.decoders: dict[TrackKey, TrackDecoder] = {}
        self.checks: dict[TrackKey, PacketCheck] = {}
        self.gates: dict[TrackKey, LossGate] = {}  # video: hold the picture over a loss
        self.corruption = CorruptionReport(config.sid, config.generation, self.checks)
        self.decryption = Decryption(config.decryption_mode, config.media_key)
        self.clock_us: int | None = None  # the last render's time: how late packets may be
        self.pictures: dict[int, PictureBuffer] = {}
        self.compositor = Compositor(config.width, config.height, config.layout.background_color)
        self.images = images or ImageStore.from_env()  # downloads the layout's images
        self.images.want(config.layout.image_urls())
        self.placeholders = Placeholders(self.images)
        self.mixer = AudioMixer()
        self.audio = AudioTimeline(self.mixer, self.t0_us)
        self.ledger = FileLedger(config, events, deliver)
        self.output = ThreadedOutput(self._output_config(), self.ledger.on_file)
        self.streams = StreamStates(config.sid, config.generation)
        if resume is not None:  # streams reported by the generation before: no repeated 43/44
            self.streams.receiving = {(uid, kind) for uid, kind in resume.receiving}  # type: ignore[misc]
        self.frames_out = 0
        self.started = False
        self.idle = IdleClock(config.channel_type, config.recorder_uid, t0_us)

    def _output_config(self) -> OutputConfig:
        c = self.config
        return OutputConfig(workdir=c.workdir, sid=c.sid, cname=c.cname,
                            prefix=list(c.file_prefix), width=c.width, height=c.height,
                            fps=c.fps, bitrate_kbps=c.bitrate_kbps, audio_profile=c.audio_profile,
                            av_file_types=tuple(c.av_file_types), slice_seconds=c.slice_seconds,
                            failover=c.generation - 2 if c.generation > 1 else None,
                            start_ms=self.resume.origin_ms if self.resume else self.t0_us // 1000,
                            continue_playlist=self.resume.playlist if self.resume else None,
                            mp4_first_index=self.resume.next_mp4_index if self.resume else 0)

    # -- input ---------------------------------------------------------------------------
    def receive(self, batch: Batch) -> None:
        self.members = list(batch.members)
        self.idle.observe(batch)
        for uid in set(self.pictures) - set(self.members):
            del self.pictures[uid]  # left the channel: the region is released
        self._sync_tracks(batch.tracks)
        for packet in batch.packets:
            self._decode(packet)

    def _sync_tracks(self, tracks: list[TrackInfo]) -> None:
        current = {(t.uid, t.kind): t for t in tracks if self._wants(t.uid, t.kind)}
        for key in set(self.tracks) - set(current):
            self._drop_track(key)
        for key, track in current.items():
            if key not in self.tracks or self.tracks[key].generation != track.generation:
                self.tracks[key] = track
                self.decoders[key] = TrackDecoder(track)
                self.checks[key] = PacketCheck()
                self.gates[key] = LossGate(track.codec)

    def _drop_track(self, key: TrackKey) -> None:
        self.tracks.pop(key, None)
        self.decoders.pop(key, None)
        self.checks.pop(key, None)
        self.gates.pop(key, None)
        uid, kind = key
        if kind == "audio":
            self.audio.forget(uid)
        # Video unpublished: the user keeps their region and their last picture until they
        # leave the channel, or until an image replaces it 3.5 s on (spec §12.6, placeholder).

    def _wants(self, uid: int, kind: str) -> bool:
        rule = self.config.audio if kind == "audio" else self.config.video
        return uid != self.config.recorder_uid and rule.wants(uid)

    def _decode(self, packet: MediaPacket) -> None:
        key = (packet.uid, packet.kind)
        decoder = self.decoders.get(key)
        if decoder is None or decoder.track.generation != packet.generation:
            return
        if (opened := self.decryption.open(packet)) is None:
            self.corruption.note(key, "undecryptable", self.checks[key].where(packet))
            return
        packet = opened
        if packet.kind == "video" and self.gates[key].waiting(packet.decode_us, packet.keyframe):
            return  # nothing decodes before a key frame: not corrupt, just joined mid-way
        problem = self.checks[key].problem(packet, self.clock_us)
        if problem == "empty":  # never to the decoder: it would take it for end of stream
            self.corruption.note(key, problem, self.checks[key].where(packet))
            return
        errors = decoder.errors
        frames = decoder.decode(packet)  # a misstamped packet is decoded all the same: later
        if decoder.errors > errors:  # frames may refer to it; its own frames are not shown
            problem = "undecodable"
        if packet.kind == "video" and problem in (None, "undecodable"):
            shown = self.gates[key].admit(packet.decode_us, packet.keyframe, problem is not None)
            frames = frames if shown else []
        if problem is not None:
            self.corruption.note(key, problem, self.checks[key].where(packet))
            return
        for timed in frames:
            if packet.kind == "video":
                self.pictures.setdefault(packet.uid, PictureBuffer()).add(timed)
            else:
                self.audio.add(packet.uid, packet.generation, timed)

    # -- output clock --------------------------------------------------------------------
    def render(self, now_us: int) -> None:
        """Produce every output frame and audio block up to `now - jitter`."""
        watermark = now_us - self.config.jitter_ms * 1000
        self.clock_us = now_us
        self.idle.tick(now_us)
        if corrupted := self.corruption.tick(now_us):
            self.events.append(corrupted)
        if failed := self.images.failures():
            self.events.append(self._image_failures(failed, now_us // 1000))
        if not self.started and watermark >= self.t0_us:
            self._announce_start()
        if self.started and (changed := self.streams.update(self.tracks, now_us // 1000)):
            self.events.append(changed)
        step = 1_000_000 / self.config.fps
        while (due := self.t0_us + int(self.frames_out * step)) <= watermark:
            self._render_picture(due)
            self.frames_out += 1
            self._mix_until(due)  # interleaved: a render after a stall still gives each slice
        self._mix_until(watermark)  # its audio (video alone would cut it first)
        self.output.poll()

    def _mix_until(self, channel_us: int) -> None:
        self.audio.close_runs_before(self.audio.sample_at(channel_us))
        for frame in self.mixer.pop_until(self.audio.sample_at(channel_us)):
            assert frame.pts is not None  # the mixer stamps every frame with its position
            self.output.push_audio(frame, self.t0_us / 1000 + frame.pts / 48)

    def _render_picture(self, channel_us: int) -> None:
        """Each region shows its user's frame nearest in time to the output frame's, not the
        newest before it (FFmpeg's fps filter rounds to nearest too): a picture is then at most
        half an output frame from its sound (33 ms at 15 fps) instead of up to a whole one (67
        ms, past P5's 40). The frames up to half a frame ahead are in: `render` runs `jitter`
        behind the channel."""
        placements = []
        drawn = self._regions()
        self.placeholders.keep(region.uid for region in drawn)
        ahead_us = 500_000 // self.config.fps
        for region in drawn:
            picture = self.pictures.get(region.uid)
            frame = picture.frame_at(channel_us + ahead_us) if picture else None
            rect = to_pixels(region, self.config.width, self.config.height)
            shown, mode = self.placeholders.choose(self.layout, region.uid,
                                                   (frame, region.render_mode),
                                                   picture.shown_us if picture else None,
                                                   channel_us)
            placements.append((rect, mode, region.alpha, shown))
        self.compositor.set_background(self.layout.background_color,
                                       self.images.get(self.layout.background_image))
        self.output.push_video(self.compositor.compose(placements), channel_us / 1000)

    def _image_failures(self, failed: list[tuple[str, str]], at_ms: int
                        ) -> list[LayoutImageFailed]:
        c = self.config
        return [LayoutImageFailed(stream_id=c.sid, at_ms=at_ms, generation=c.generation,
                                  url=url, reason=reason) for url, reason in failed]

    def _regions(self) -> list[Region]:
        users = [u for u in self.members if self._holds_region(u)][: self.config.max_users]
        custom = [CustomRegion(**r.model_dump()) for r in self.layout.layout_config or []]
        return regions(self.layout.mixed_video_layout, users, self.layout.max_resolution_uid,
                       custom or None)

    def _holds_region(self, uid: int) -> bool:
        published = (uid, "video") in self.tracks or (uid, "audio") in self.tracks
        return published and self.config.video.wants(uid) and uid != self.config.recorder_uid

    def set_subscription(self, audio: Subscription, video: Subscription) -> None:
        """Replace the subscription rules; the next `receive` drops and adds tracks by them."""
        self.config = replace(self.config, audio=audio, video=video)

    def set_layout(self, layout: Layout) -> None:
        """From the next picture; its images are painted once they have been downloaded (a
        failed one is tried again by a changed layout, not by the same one pushed again)."""
        if layout != self.layout:
            self.images.want(layout.image_urls())
        self.layout = layout

    def idle_for_s(self, now_us: int) -> float:
        return self.idle.idle_for_s(now_us)

    # -- lifecycle -----------------------------------------------------------------------
    def _announce_start(self) -> None:
        self.started = True
        t0_ms = self.t0_us // 1000
        self.output.mark_track_start("AUDIO", t0_ms)
        self.output.mark_track_start("VIDEO", t0_ms)
        sid, generation = self.config.sid, self.config.generation
        if self.resume is not None:  # 42 again after the recovery (§14): where the cut is
            self.events.append([SliceStarted(
                stream_id=sid, at_ms=t0_ms, generation=generation, start_ms=t0_ms,
                discontinue_ms=self.resume.discontinue_ms)])
            return
        self.events.append([
            StreamStateChanged(stream_id=sid, at_ms=t0_ms, generation=generation, track="audio",
                               stream_uid="0", state=0, utc_ms=t0_ms),
            StreamStateChanged(stream_id=sid, at_ms=t0_ms, generation=generation, track="video",
                               stream_uid="0", state=0, utc_ms=t0_ms),
            SliceStarted(stream_id=sid, at_ms=t0_ms, generation=generation, start_ms=t0_ms,
                         discontinue_ms=t0_ms),
        ])

    def finish(self, now_us: int) -> None:
        """Render what is due, close every file (final slice, ENDLIST, MP4)."""
        self.mixer.fade_out_until(self.audio.sample_at(now_us), len(self.audio.fade))
        self.output.end_at(now_us / 1000)
        self.render(now_us + self.config.jitter_ms * 1000)
        self.output.drain()  # files finished before closing are reported as before it
        self.ledger.closing = True
        self.output.close()
        self.images.close()
        at_ms = now_us // 1000
        sid, generation = self.config.sid, self.config.generation
        self.events.append([*self.corruption.close(now_us), *self.streams.close(at_ms),
            StreamStateChanged(stream_id=sid, at_ms=at_ms, generation=generation, track="audio",
                               stream_uid="0", state=1, utc_ms=at_ms),
            StreamStateChanged(stream_id=sid, at_ms=at_ms, generation=generation, track="video",
                               stream_uid="0", state=1, utc_ms=at_ms),
        ])
