"""Corrupt media (R5): one user sends garbage, truncated, empty and misstamped packets among good
ones; the recorder skips them, keeps recording everyone else, and reports one `MediaCorrupted`
per stream and burst. Both cores, on a simulated clock as in `test_recorder`/`test_individual`.
"""

from __future__ import annotations

import random
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from cloudrec.actors.channel.packet import MediaPacket
from cloudrec.actors.channel.synthetic import publisher_colors
from cloudrec.actors.layout.geometry import regions, to_pixels
from cloudrec.actors.recorder.config import RecordingConfig
from cloudrec.actors.recorder.corruption import (
    FUTURE_US,
    LONGEST_US,
    QUIET_US,
    STALLED_US,
    CorruptionReport,
    PacketCheck,
)
from cloudrec.actors.recorder.individual import IndividualRecorder
from cloudrec.actors.recorder.recorder import Recorder
from cloudrec.actors.uploader.uploader import UploadJob
from cloudrec.events.layout import Layout
from cloudrec.events.memory import MemoryEventLog
from cloudrec.events.segment import MediaCorrupted

from .live import synthetic_channel
from .test_individual import demux, payload
from .test_recorder import median

T0 = 1_800_000_000_000_000  # µs
SID = "s" * 32
BURSTS = [(0.5, 1.5), (4.0, 4.5)]  # media seconds of user 1's bad packets: 2.5 s apart


def packet(pts: int, data: bytes = b"x") -> MediaPacket:
    return MediaPacket(uid=1, kind="audio", data=data, pts=pts, time_base=Fraction(1, 1000),
                       channel_us=T0 + pts * 1000)


# -- the checks and the report -------------------------------------------------------------

def test_a_check_names_empty_backwards_and_future_packets() -> None:
    check = PacketCheck()
    assert check.problem(packet(100), T0) is None
    assert check.problem(packet(120, b""), T0) == "empty"
    assert check.problem(packet(100), T0) == "backwards"
    assert check.problem(packet(90), T0) == "backwards"
    assert check.problem(packet(FUTURE_US // 1000 + 1000), T0) == "future"
    assert check.problem(packet(140), T0) is None  # a future packet does not hold back the rest
    assert check.problem(packet(10**9), None) is None  # no clock yet: not judged


def test_a_burst_is_reported_once_its_stream_went_on_quietly() -> None:
    check = PacketCheck()
    report = CorruptionReport(SID, generation=1, checks={(1, "audio"): check})
    for step in range(10):  # 0.9 s of media with every other packet bad
        p = packet(step * 100)
        if step % 2:
            report.note((1, "audio"), "undecodable", check.where(p))
        else:
            assert check.problem(p, T0) is None
        assert report.tick(T0) == []
    ms = 800 + QUIET_US // 1000  # bad ones are met after the last good one (0.8 s)
    assert check.problem(packet(ms - 1), T0) is None
    assert report.tick(T0 + 1) == []
    assert check.problem(packet(ms), T0) is None
    [event] = report.tick(T0 + 2)
    assert (event.uid, event.track, event.packets) == (1, "audio", 5)
    assert (event.first_ms, event.last_ms) == (T0 // 1000, T0 // 1000 + 800)
    assert event.problems == ["undecodable"]
    assert report.tick(T0 + 10 * QUIET_US) == []


def test_two_bursts_arriving_together_are_two_bursts() -> None:
    """A lagging publisher sends 2.5 s of media at once: the bursts in it are still apart."""
    check = PacketCheck()
    report = CorruptionReport(SID, generation=1, checks={(1, "audio"): check})
    for ms in range(0, 4000, 100):
        p = packet(ms)
        if 500 <= ms < 1000 or 3500 <= ms < 3800:
            report.note((1, "audio"), "empty", check.where(p))
        else:
            assert check.problem(p, T0) is None
    assert report.tick(T0) != []  # the first ended when the second began
    [second] = report.close(T0 + 1)
    assert (second.first_ms, second.last_ms) == (T0 // 1000 + 3400, T0 // 1000 + 3400)


def test_a_burst_of_a_stream_that_stopped_is_reported_after_a_while() -> None:
    check = PacketCheck()
    report = CorruptionReport(SID, generation=1, checks={(1, "audio"): check})
    report.note((1, "audio"), "empty", check.where(packet(0)))
    assert report.tick(T0) == []
    assert report.tick(T0 + STALLED_US - 1) == []
    assert len(report.tick(T0 + STALLED_US)) == 1


def test_streams_have_their_own_bursts_and_close_reports_what_is_open() -> None:
    report = CorruptionReport(SID, generation=1, checks={})
    report.note((1, "video"), "empty", T0)
    report.note((2, "audio"), "future", T0)
    report.tick(T0)
    report.note((2, "audio"), "future", T0 + 1000)
    events = report.close(T0 + 1000)
    assert sorted((e.uid, e.track, e.packets) for e in events) == [(1, "video", 1),
                                                                   (2, "audio", 2)]
    assert report.close(T0 + 2000) == []


def test_a_burst_that_never_ends_is_reported_every_minute() -> None:
    check = PacketCheck()
    report = CorruptionReport(SID, generation=1, checks={(1, "audio"): check})
    reported = []
    for step in range(LONGEST_US * 2 // 1_000_000 + 2):  # 0..60 s, then 61..121 s
        p = packet(step * 1000)
        assert check.problem(p, None) is None
        report.note((1, "audio"), "undecodable", check.where(p))
        reported += report.tick(T0 + step * 1_000_000)
    assert len(reported) == 2


# -- the cores -------------------------------------------------------------------------------

def corrupt(packets: list[MediaPacket], rng: random.Random) -> list[MediaPacket]:
    """User 1's packets within BURSTS: 3 of 5 spoilt (garbage, truncated, empty, 2 s early)."""
    out = []
    for p in packets:
        t = p.seconds
        if p.uid != 1 or not any(a <= t < b for a, b in BURSTS):
            out.append(p)
            continue
        n = rng.randrange(5)
        if n == 0:
            out.append(replace(p, data=rng.randbytes(len(p.data) or 10)))
        elif n == 1:
            out.append(replace(p, data=p.data[: len(p.data) // 3]))
        elif n == 2:
            out.append(replace(p, data=b""))
        else:  # 2 s early, then (sometimes) the good one
            out.append(replace(p, pts=p.pts - int(2 / p.time_base)))
            if n == 4:
                out.append(p)
    return out


def run(tmp_path: Path, mode: str, seconds: float = 6.0
        ) -> tuple[list[UploadJob], list[MediaCorrupted], dict[tuple[int, str], list[bytes]]]:
    clock, channel, sources = synthetic_channel(2, T0)
    config = RecordingConfig(sid=SID, appid="app", cname="room", recorder_uid=99, generation=1,
                             workdir=tmp_path, mode=mode, layout=Layout(mixed_video_layout=1),
                             av_file_types=("hls", "mp4"), slice_seconds=2.0)
    jobs: list[UploadJob] = []
    events = MemoryEventLog()
    core = (IndividualRecorder if mode == "individual" else Recorder)(
        config, events, jobs.append, t0_us=T0)
    rng, sent = random.Random(5), {}
    for step in range(1, int(seconds * 10) + 1):
        clock["now"] = T0 + step * 100_000
        for source in sources:
            packets = corrupt(source.packets_until(step / 10), rng)
            for p in packets:
                sent.setdefault((p.uid, p.kind), []).append(p.data)
            channel.push(packets)
        core.receive(channel.pull("rec"))
        core.render(clock["now"])
    core.finish(clock["now"])
    corrupted = [e for e in events.read_stream(SID) if isinstance(e, MediaCorrupted)]
    return jobs, corrupted, sent


@pytest.mark.parametrize("mode", ["mix", "individual"])
def test_one_warning_per_stream_and_burst_of_the_corrupt_user_only(
        tmp_path: Path, mode: str) -> None:
    _, corrupted, _ = run(tmp_path, mode)
    bursts = sorted((e.uid, e.track, e.first_ms) for e in corrupted)
    assert [(uid, track) for uid, track, _ in bursts] == [
        (1, "audio"), (1, "audio"), (1, "video"), (1, "video")]
    base = T0 // 1000
    for e in corrupted:  # dated in the stream's media time, within its burst (give or take)
        assert any(base + a * 1000 - 100 <= e.first_ms <= e.last_ms <= base + b * 1000 + 200
                   for a, b in BURSTS), e
        assert e.packets > 1


def test_the_mix_goes_on_and_shows_the_good_user(tmp_path: Path) -> None:
    jobs, _, _ = run(tmp_path, "mix")
    mp4 = next(job.path for job in jobs if job.kind == "mp4")
    with av.open(str(mp4)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        duration = float(container.duration or 0) / 1_000_000
    assert duration == pytest.approx(6.0, abs=0.5)
    config = RecordingConfig(sid=SID, appid="app", cname="room", recorder_uid=99, generation=1,
                             workdir=tmp_path)
    region = next(r for r in regions(1, [1, 2], None) if r.uid == 2)
    tile = to_pixels(region, config.width, config.height)
    good = np.array(publisher_colors(2)[1][0])
    for frame in frames[len(frames) // 10:]:
        assert np.abs(median(frame, tile) - good).max() < 40


def test_individual_tracks_of_the_good_user_are_whole(tmp_path: Path) -> None:
    jobs, _, sent = run(tmp_path, "individual")
    slices = {job.key: job.path for job in jobs if job.kind == "slice"}
    for uid, kind in [(2, "audio"), (2, "video"), (1, "audio"), (1, "video")]:
        prefix = f"{SID}_room__uid_s_{uid}__uid_e_{kind}_"
        got = [p for key in sorted(k for k in slices if k.startswith(prefix))
               for p in demux(slices[key])[1]]
        assert np.all(np.diff([t for _, t in got]) > 0), (uid, kind)  # the TS stayed in order
        if uid == 2:
            assert [payload(data) for data, _ in got] == sent[(uid, kind)]
