"""VP8 senders (web users) in a mix: their video is decoded and composited like H.264's."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from cloudrec.actors.channel.channel import Channel
from cloudrec.actors.channel.packet import MediaPacket, TrackInfo
from cloudrec.actors.layout.geometry import regions, to_pixels
from cloudrec.actors.recorder.config import RecordingConfig
from cloudrec.actors.recorder.recorder import Recorder
from cloudrec.actors.uploader.uploader import UploadJob
from cloudrec.events.layout import Layout
from cloudrec.events.memory import MemoryEventLog

from .test_recorder import median

T0 = 1_800_000_000_000_000  # µs
FPS, COLOURS = 15, {1: (220, 40, 40), 2: (40, 200, 60)}
TIME_BASE = Fraction(1, FPS)


def vp8_packets(uid: int, seconds: float) -> list[MediaPacket]:
    """A solid-colour picture of `seconds`, encoded with libvpx as a browser would send it."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 160, 96, "yuv420p"
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
