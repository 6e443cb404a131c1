"""Decryption in both cores: publishers seal their packets; with the session's key the recording
is the clear media, with another key (or mode) it holds no file of garbage and the recorder
reports one "undecryptable" warning per stream and burst. On a simulated clock, as in
`test_corruption`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from cloudrec.actors.channel.encryption import MediaKey, PacketCipher
from cloudrec.actors.channel.packet import MediaPacket
from cloudrec.actors.channel.synthetic import publisher_colors
from cloudrec.actors.layout.geometry import regions, to_pixels
from cloudrec.actors.recorder.config import RecordingConfig
from cloudrec.actors.recorder.decryption import Decryption
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
SID = "d" * 32
KEY = MediaKey(6, "channel secret")
SALTED = MediaKey(8, "channel secret", bytes(range(32)))


@dataclass
class Run:
    jobs: list[UploadJob]
    warnings: list[MediaCorrupted]
    sent: dict[tuple[int, str], list[bytes]]  # clear payloads


def record(tmp_path: Path, mode: str, sealed_with: MediaKey, key: MediaKey | None,
           seconds: float = 3.0) -> Run:
    clock, channel, sources = synthetic_channel(2, T0)
    config = RecordingConfig(sid=SID, appid="app", cname="room", recorder_uid=99, generation=1,
                             workdir=tmp_path, mode=mode, layout=Layout(mixed_video_layout=1),
                             av_file_types=("hls", "mp4"), slice_seconds=2.0,
                             decryption_mode=sealed_with.mode if key is None else key.mode,
                             media_key=key)
    jobs: list[UploadJob] = []
    events, cipher, sent = MemoryEventLog(), PacketCipher(sealed_with), {}
    core = (IndividualRecorder if mode == "individual" else Recorder)(
        config, events, jobs.append, t0_us=T0)
    for step in range(1, int(seconds * 10) + 1):
        clock["now"] = T0 + step * 100_000
        for source in sources:
            packets = source.packets_until(step / 10)
            for p in packets:
                sent.setdefault((p.uid, p.kind), []).append(p.data)
            channel.push([replace(p, data=cipher.seal(p.data)) for p in packets])
        core.receive(channel.pull("rec"))
        core.render(clock["now"])
    core.finish(clock["now"])
    warnings = [e for e in events.read_stream(SID) if isinstance(e, MediaCorrupted)]
    return Run(jobs, warnings, sent)


def test_individual_tracks_hold_the_clear_packets(tmp_path: Path) -> None:
    run = record(tmp_path, "individual", SALTED, SALTED)
    assert run.warnings == []
    slices = {job.key: job.path for job in run.jobs if job.kind == "slice"}
    for uid, kind in [(1, "audio"), (1, "video"), (2, "audio"), (2, "video")]:
        prefix = f"{SID}_room__uid_s_{uid}__uid_e_{kind}_"
        got = [payload(data) for key in sorted(k for k in slices if k.startswith(prefix))
               for data, _ in demux(slices[key])[1]]
        assert got == run.sent[(uid, kind)]


def test_the_mix_shows_every_user_in_their_colour(tmp_path: Path) -> None:
    run = record(tmp_path, "mix", KEY, KEY)
    assert run.warnings == []
    mp4 = next(job.path for job in run.jobs if job.kind == "mp4")
    with av.open(str(mp4)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    config = RecordingConfig(sid=SID, appid="app", cname="room", recorder_uid=99, generation=1,
                             workdir=tmp_path)
    for region in regions(1, [1, 2], None):
        tile = to_pixels(region, config.width, config.height)
        colour = np.array(publisher_colors(2)[region.uid - 1][0])
        assert np.abs(median(frames[-1], tile) - colour).max() < 40


def test_a_wrong_secret_records_no_file_and_warns_per_stream(tmp_path: Path) -> None:
    run = record(tmp_path, "individual", KEY, MediaKey(6, "guessed"))
    assert [job for job in run.jobs if job.kind in ("slice", "playlist")] == []
    assert sorted((e.uid, e.track) for e in run.warnings) == [
        (1, "audio"), (1, "video"), (2, "audio"), (2, "video")]
    assert all(e.problems == ["undecryptable"] and e.packets > 10 for e in run.warnings)


def test_a_wrong_mode_leaves_the_mix_empty_and_warns(tmp_path: Path) -> None:
    run = record(tmp_path, "mix", KEY, MediaKey(5, KEY.secret))
    assert {(e.uid, e.track) for e in run.warnings} == {(1, "audio"), (1, "video"),
                                                         (2, "audio"), (2, "video")}
    assert {p for e in run.warnings for p in e.problems} == {"undecryptable"}
    mp4 = next(job.path for job in run.jobs if job.kind == "mp4")
    with av.open(str(mp4)) as container:
        last = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)][-1]
    assert last.max() < 40  # the background: no user's picture, no garbage


def test_a_session_without_its_key_opens_nothing(tmp_path: Path) -> None:
    run = record(tmp_path, "individual", KEY, None)
    assert len(run.warnings) == 4 and not any(job.kind == "slice" for job in run.jobs)


def test_clear_media_and_empty_packets_pass_as_they_are() -> None:
    packet = MediaPacket(1, "audio", b"clear", 0, Fraction(1, 48000))
    assert Decryption(0, None).open(packet) == packet
    empty = replace(packet, data=b"")
    assert Decryption(6, KEY).open(empty) == empty  # corrupt media of its own kind
    assert Decryption(6, KEY).open(packet) is None
