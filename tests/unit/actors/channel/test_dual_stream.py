"""Dual-stream senders: a synthetic publisher and a file, each with a low video layer at half the
size, the same timestamps and key frames, that decodes to the same picture."""

import threading
from pathlib import Path

import av
import numpy as np
import pytest

from cloudrec.actors.channel.dual_stream import DualStream, low_size
from cloudrec.actors.channel.file_source import FileSource
from cloudrec.actors.channel.packet import HIGH, LOW, MediaPacket, TrackInfo
from cloudrec.actors.channel.publisher import Publisher
from cloudrec.actors.channel.sources import open_source
from cloudrec.actors.channel.synthetic import SyntheticPublisher

from .test_file_source import COLOR, SECONDS, write_file

RED = (255, 0, 0)


def layer(packets: list[MediaPacket], which: int) -> list[MediaPacket]:
    return [p for p in packets if p.kind == "video" and p.layer == which]


def pictures(packets: list[MediaPacket]) -> list[av.VideoFrame]:
    decoder = av.CodecContext.create("h264", "r")  # no extradata: SPS/PPS are in-band
    return [f for p in packets for f in decoder.decode(av.Packet(p.data))] + list(
        decoder.decode(None))


def centre(frame: av.VideoFrame) -> np.ndarray:
    image = frame.to_ndarray(format="rgb24")
    return image[image.shape[0] * 3 // 4, image.shape[1] // 2].astype(int)


def test_a_synthetic_sender_publishes_a_low_layer_at_half_size() -> None:
    source = DualStream(SyntheticPublisher(uid=3, color=RED, tone_hz=300.0, width=640,
                                           height=360))
    video = [(t.layer, t.codec, t.width, t.height) for t in source.tracks() if t.kind == "video"]
    assert video == [(HIGH, "h264", 640, 360), (LOW, "h264", 320, 180)]
    packets = source.packets_until(2.0)
    high, low = layer(packets, HIGH), layer(packets, LOW)
    assert [p.pts for p in low] == [p.pts for p in high]
    assert [p.pts for p in low if p.keyframe] == [p.pts for p in high if p.keyframe] == [0, 90000]
    frames = pictures(low)
    assert len(frames) == len(high) and {(f.width, f.height) for f in frames} == {(320, 180)}
    assert np.abs(centre(frames[-1]) - RED).max() < 30
    assert len([p for p in packets if p.kind == "audio"]) == 100  # audio passes through


def test_a_file_with_b_frames_gets_a_low_layer_with_its_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "sample.mp4"
    write_file(path, "aac")  # 160x90 H.264 with B-frames
    with FileSource(str(path), uid=4) as file:
        source = DualStream(file)
        packets = [p for second in range(1, SECONDS + 2) for p in source.packets_until(second)]
        low_track = next(t for t in source.tracks() if t.layer == LOW)
    assert (low_track.width, low_track.height) == low_size(160, 90) == (80, 44)
    high, low = layer(packets, HIGH), layer(packets, LOW)
    assert sorted(p.pts for p in low) == sorted(p.pts for p in high)  # all, flushed at the end
    assert [p.pts for p in low] == sorted(p.pts for p in low)  # presentation order, no B-frames
    frames = pictures(low)
    assert {(f.width, f.height) for f in frames} == {(80, 44)}
    assert np.abs(centre(frames[-1]) - COLOR).max() < 40


def test_a_source_without_video_passes_through() -> None:
    class AudioOnly:
        def __init__(self) -> None:
            self.inner = SyntheticPublisher(uid=5, color=RED, tone_hz=300.0)

        def tracks(self) -> list[TrackInfo]:
            return [t for t in self.inner.tracks() if t.kind == "audio"]

        def packets_until(self, seconds: float) -> list[MediaPacket]:
            return [p for p in self.inner.packets_until(seconds) if p.kind == "audio"]

    source = DualStream(AudioOnly())
    assert [t.kind for t in source.tracks()] == ["audio"]
    assert {p.kind for p in source.packets_until(0.5)} == {"audio"}


class Recording:
    """A channel port that notes what is published, in order."""

    def __init__(self) -> None:
        self.published: list[tuple[str, int]] = []

    def join(self, uid: int) -> None: ...

    def leave(self, uid: int) -> None: ...

    def publish(self, track: TrackInfo) -> TrackInfo:
        self.published.append((track.kind, track.layer))
        return track

    def push(self, packets: list[MediaPacket]) -> int:
        return len(packets)


@pytest.mark.timeout(30)
def test_the_publisher_publishes_the_low_layer_first() -> None:
    """So a subscriber of low layers never starts on the high one in between."""
    port = Recording()
    source = DualStream(SyntheticPublisher(uid=6, color=RED, tone_hz=300.0))
    Publisher(port, 6, source, realtime=False).run(threading.Event(), duration_s=0.2)
    assert port.published == [("video", LOW), ("video", HIGH), ("audio", HIGH)]


def test_publish_dual_stream_opens_the_source_with_a_low_layer() -> None:
    """`cloudrec publish --synthetic --dual-stream`."""
    sizes = [(t.layer, t.width) for t in open_source("synthetic", 8, dual_stream=True).tracks()
             if t.kind == "video"]
    assert sizes == [(HIGH, 320), (LOW, 160)]
    assert [t.layer for t in open_source("synthetic", 8).tracks()] == [HIGH, HIGH]
