"""The WebM slice writer of individual mode (§13.4): VP8/VP9 packets remuxed as they came.

Real libvpx packets go through a `TrackOutput`; the produced .webm is opened again and must hold
the very packets fed (count and bytes), at the sender's picture size, on the session's clock,
and be cut at key frames only: never forced (§13.3).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import av
import pytest

from cloudrec.actors.channel.packet import MediaPacket, TrackInfo
from cloudrec.actors.recorder import track_output
from cloudrec.actors.recorder.files import FileWritten
from cloudrec.actors.recorder.hls import TS_OFFSET
from cloudrec.actors.recorder.resume import MEDIA_SUFFIXES, track_playlist_key
from cloudrec.actors.recorder.salvage import salvage_file
from cloudrec.actors.recorder.track_output import TrackOutput, TrackTarget

from .test_vp8 import FPS, TIME_BASE, vp8_packets

T0 = 1_800_000_000_000_000  # µs
SID = "s" * 32
VP8 = TrackInfo(1, "video", "vp8", TIME_BASE, width=160, height=96, generation=1)


def write(tmp_path: Path, packets: list[MediaPacket], slice_seconds: float = 15.0,
          ) -> list[FileWritten]:
    written: list[FileWritten] = []
    target = TrackTarget(workdir=tmp_path, sid=SID, cname="room", prefix=(), uid=1,
                         kind="video", start_us=T0, slice_seconds=slice_seconds)
    output = TrackOutput(target, written.append)
    output.start(VP8)
    for packet in packets:
        output.write(replace(packet, channel_us=T0 + round(packet.seconds * 1e6), generation=1))
    output.close()
    return [w for w in written if w.kind == "slice"]


def test_a_webm_slice_holds_the_packets_fed_at_their_size_and_time(tmp_path: Path) -> None:
    fed = vp8_packets(1, 2.0)
    [piece] = write(tmp_path, fed)
    assert piece.key == f"{SID}_room__uid_s_1__uid_e_video_20270115080000000.webm"
    with av.open(str(piece.path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("vp8", 160, 96)
        packets = [p for p in container.demux(stream) if p.size]
        times = [float(p.pts * p.time_base) for p in packets]
    assert [bytes(p) for p in packets] == [p.data for p in fed]
    assert [p.is_keyframe for p in packets] == [p.keyframe for p in fed]
    assert times[0] == float(TS_OFFSET)  # the TS slices' clock: recording time + offset
    assert times[-1] - times[0] == pytest.approx((len(fed) - 1) / FPS, abs=0.001)
    assert piece.duration_s == pytest.approx(len(fed) / FPS, abs=0.001)
    with av.open(str(piece.path)) as container:
        assert len(list(container.decode(video=0))) == len(fed)


def test_webm_slices_are_cut_at_key_frames_and_never_forced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(track_output, "FORCED_CUT_US", 500_000)
    monkeypatch.setattr(track_output, "FORCED_CUT_BYTES", 1)
    slices = write(tmp_path, vp8_packets(1, 3.0, gop=FPS), slice_seconds=1.0)
    assert [round(s.duration_s, 1) for s in slices] == [1.0, 1.0, 1.0]
    for piece in slices:
        with av.open(str(piece.path)) as container:
            assert next(p for p in container.demux(video=0) if p.size).is_keyframe


def test_a_webm_cut_short_is_salvaged_from_its_whole_clusters(tmp_path: Path) -> None:
    fed = vp8_packets(1, 3.0, gop=FPS)
    [piece] = write(tmp_path, fed)
    data = piece.path.read_bytes()
    piece.path.write_bytes(data[: len(data) * 3 // 4])  # a recorder killed mid-slice
    kept = salvage_file(piece.path)
    assert kept is not None and kept.has_video_key
    assert kept.first_s == float(TS_OFFSET) and 1 < kept.packets < len(fed)
    with av.open(str(piece.path)) as container:
        packets = [bytes(p) for p in container.demux(video=0) if p.size]
    assert packets == [p.data for p in fed[: kept.packets]]


@pytest.mark.parametrize("content", [b"", b"\x1a\x45\xdf\xa3", b"not a webm at all" * 10])
def test_a_webm_with_nothing_usable_is_left_to_be_dropped(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.webm"
    path.write_bytes(content)
    assert salvage_file(path) is None and path.read_bytes() == content


def test_a_webm_slice_belongs_to_its_track_playlist_after_a_failover() -> None:
    name = f"rec/bak0_{SID}_room__uid_s_1__uid_e_video_20270115080000000.webm"
    assert track_playlist_key(name) == f"rec/{SID}_room__uid_s_1__uid_e_video.m3u8"
    assert MEDIA_SUFFIXES[".webm"] == "slice"
