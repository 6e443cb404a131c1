"""VP8 senders (web users): in a mix their video is decoded and composited like H.264's; in
individual mode it is remuxed into WebM slices (§13.4); a codec no slice can carry is warned
about."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from cloudrec.actors.channel.channel import Channel
from cloudrec.actors.channel.packet import MediaPacket, TrackInfo
from cloudrec.actors.layout.geometry import regions, to_pixels
from cloudrec.actors.recorder.config import RecordingConfig
from cloudrec.actors.recorder.individual import IndividualRecorder
from cloudrec.actors.recorder.playlist import Playlist
from cloudrec.actors.recorder.recorder import Recorder
from cloudrec.actors.uploader.uploader import UploadJob
from cloudrec.events.layout import Layout
from cloudrec.events.memory import MemoryEventLog
from cloudrec.events.segment import TrackNotRecorded

from .test_recorder import median

T0 = 1_800_000_000_000_000  # µs
FPS, COLOURS = 15, {1: (220, 40, 40), 2: (40, 200, 60)}
TIME_BASE = Fraction(1, FPS)


def vp8_packets(uid: int, seconds: float, gop: int = 128) -> list[MediaPacket]:
    """A solid-colour picture of `seconds`, encoded with libvpx as a browser would send it."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 160, 96, "yuv420p"
    encoder.gop_size = gop
    encoder.time_base, encoder.framerate = TIME_BASE, FPS
    image = np.full((96, 160, 3), COLOURS[uid], np.uint8)
    packets = []
    for index in range(int(seconds * FPS)):
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        packets += list(encoder.encode(frame))
    packets += list(encoder.encode(None))
    return [MediaPacket(uid, "video", bytes(p), p.pts, TIME_BASE, p.is_keyframe)
            for p in packets]


def test_a_vp8_sender_is_composited_in_its_region(tmp_path: Path) -> None:
    clock = {"now": T0}
    channel = Channel(clock=lambda: clock["now"])
    channel.subscribe("rec")
    for uid in COLOURS:
        channel.publish(TrackInfo(uid, "video", "vp8", TIME_BASE, width=160, height=96))
    sent = {uid: vp8_packets(uid, 3.0) for uid in COLOURS}
    config = RecordingConfig(sid="s" * 32, appid="app", cname="room", recorder_uid=99,
                             generation=1, workdir=tmp_path, layout=Layout(mixed_video_layout=1),
                             av_file_types=("mp4",))
    jobs: list[UploadJob] = []
    recorder = Recorder(config, MemoryEventLog(), jobs.append, t0_us=T0)
    for step in range(1, 31):
        clock["now"] = T0 + step * 100_000
        for packets in sent.values():
            channel.push([p for p in packets if (step - 1) / 10 <= p.seconds < step / 10])
        recorder.receive(channel.pull("rec"))
        recorder.render(clock["now"])
    recorder.finish(clock["now"])
    assert all(decoder.errors == 0 for decoder in recorder.decoders.values())
    mp4 = next(job.path for job in jobs if job.kind == "mp4")
    with av.open(str(mp4)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    for region in regions(1, list(COLOURS), None):
        rect = to_pixels(region, config.width, config.height)
        assert np.abs(median(frames[-5], rect) - COLOURS[region.uid]).max() < 30, region.uid


def record_individually(tmp_path: Path, tracks: list[TrackInfo],
                        sent: dict[int, list[MediaPacket]]) -> tuple[list[UploadJob], list[object]]:
    """Record `tracks` (packets `sent` per uid) in individual mode for 3 s, 1 s slices."""
    clock = {"now": T0}
    channel = Channel(clock=lambda: clock["now"])
    channel.subscribe("rec")
    for track in tracks:
        channel.publish(track)
    config = RecordingConfig(sid="s" * 32, appid="app", cname="room", recorder_uid=99,
                             generation=1, workdir=tmp_path, mode="individual",
                             slice_seconds=1.0)
    jobs: list[UploadJob] = []
    events = MemoryEventLog()
    recorder = IndividualRecorder(config, events, jobs.append, t0_us=T0)
    for step in range(1, 31):
        clock["now"] = T0 + step * 100_000
        for packets in sent.values():
            channel.push([p for p in packets if (step - 1) / 10 <= p.seconds < step / 10])
        recorder.receive(channel.pull("rec"))
        recorder.render(clock["now"])
    recorder.finish(clock["now"])
    return jobs, list(events.read_stream(config.sid))


def test_a_vp8_sender_in_individual_mode_is_remuxed_into_webm_slices(tmp_path: Path) -> None:
    sent = vp8_packets(1, 3.0, gop=FPS)
    jobs, _ = record_individually(
        tmp_path, [TrackInfo(1, "video", "vp8", TIME_BASE, width=160, height=96)], {1: sent})
    slices = [job.path for job in jobs if job.kind == "slice"]
    playlist = next(job.path for job in jobs if job.kind == "playlist")
    assert playlist.name.endswith("__uid_s_1__uid_e_video.m3u8")
    listed = [s.name for s in Playlist.parse(playlist.read_text()).segments]
    assert listed == [path.name for path in slices] and len(slices) >= 2
    assert all(name.endswith(".webm") for name in listed)
    written = []
    for path in slices:
        with av.open(str(path)) as container:
            assert container.format.name.startswith("matroska")  # "matroska,webm"
            written += [bytes(p) for p in container.demux(video=0) if p.size]
        with av.open(str(path)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        assert frames and frames[0].shape == (96, 160, 3)
        assert np.abs(frames[-1][48, 80].astype(int) - COLOURS[1]).max() < 30
    assert written == [p.data for p in sent]  # remuxed: the very packets the sender sent


def test_a_codec_no_slice_can_carry_is_warned_about_once(tmp_path: Path) -> None:
    track = TrackInfo(1, "video", "av1", TIME_BASE, width=160, height=96)
    junk = [MediaPacket(1, "video", b"\x12\x00", i, TIME_BASE, i == 0) for i in range(45)]
    jobs, events = record_individually(tmp_path, [track], {1: junk})
    assert not [job for job in jobs if job.kind == "slice"]
    assert [(e.uid, e.track, e.codec) for e in events if isinstance(e, TrackNotRecorded)] == [
        (1, "video", "av1")]
