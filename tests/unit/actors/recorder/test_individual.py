"""The individual-mode core without Ray: synthetic users → Channel → IndividualRecorder → files.

A simulated clock drives the channel in 100 ms steps, as the actor's loop does in real time.
What is checked is in the files: every per-user TS holds exactly the packets that user published
(same bytes, no re-encode), on one clock shared by every track; the playlists' names, tags and
durations; the events (42/43/44, the playlists announced before their files).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from cloudrec.actors.channel.channel import Channel
from cloudrec.actors.channel.file_source import FileSource
from cloudrec.actors.channel.packet import MediaPacket
from cloudrec.actors.channel.synthetic import SyntheticPublisher, publisher_colors
from cloudrec.actors.recorder import track_output
from cloudrec.actors.recorder.config import RecordingConfig, Subscription
from cloudrec.actors.recorder.individual import IndividualRecorder
from cloudrec.actors.recorder.naming import file_name
from cloudrec.actors.recorder.playlist import Playlist, segment_uri
from cloudrec.actors.recorder.timebase import utc17
from cloudrec.actors.recorder.track_output import TrackOutput, TrackTarget, adts_header
from cloudrec.actors.uploader.uploader import UploadJob
from cloudrec.events.memory import MemoryEventLog
from cloudrec.events.segment import SliceStarted, StreamStateChanged, TrackPlaylistStarted

from ...api.names import LEGAL_CNAMES
from .live import synthetic_channel

T0 = 1_800_000_000_000_000  # µs
SID = "s" * 32
AUD = b"\x00\x00\x00\x01\x09\xf0"  # the access-unit delimiter a TS muxer puts before H.264


@dataclass
class Run:
    recorder: IndividualRecorder
    jobs: list[UploadJob]
    sent: dict[tuple[int, str], list[MediaPacket]] = field(default_factory=dict)

    def events(self) -> list[object]:
        return list(self.recorder.events.read_stream(SID))  # type: ignore[attr-defined]

    def files(self, kind: str) -> dict[str, Path]:
        return {job.key: job.path for job in self.jobs if job.kind == kind}


Step = Callable[[Channel, IndividualRecorder, int], None]


def record(tmp_path: Path, users: int = 2, seconds: float = 5.0, stream_types: int = 2,
           slice_seconds: float = 2.0, at: dict[int, Step] | None = None,
           cname: str = "room") -> Run:
    """Record `users` synthetic publishers for `seconds`; `at[step]` acts before step's batch."""
    clock, channel, sources = synthetic_channel(users, T0)
    config = RecordingConfig(sid=SID, appid="app", cname=cname, recorder_uid=99, generation=1,
                             workdir=tmp_path, mode="individual", stream_types=stream_types,
                             file_prefix=("rec", "room"), slice_seconds=slice_seconds)
    run = Run(IndividualRecorder(config, MemoryEventLog(), [].append, t0_us=T0), [])
    run.recorder.ledger.deliver = run.jobs.append
    for step in range(1, int(seconds * 10) + 1):
        clock["now"] = T0 + step * 100_000
        if at and step in at:
            at[step](channel, run.recorder, clock["now"])
        for source in sources:
            packets = source.packets_until(step / 10)
            for packet in packets:
                if (packet.uid, packet.kind) in {(t.uid, t.kind) for t in channel.list_tracks()}:
                    run.sent.setdefault((packet.uid, packet.kind), []).append(packet)
            channel.push(packets)
        run.recorder.receive(channel.pull("rec"))
        run.recorder.render(clock["now"])
    run.recorder.finish(clock["now"])
    return run


def demux(path: Path) -> tuple[str, list[tuple[bytes, float]]]:
    """Codec and (payload, pts seconds) of every packet of a one-stream TS."""
    with av.open(str(path)) as container:
        stream = container.streams[0]
        packets = [(bytes(p), float(p.pts * p.time_base)) for p in container.demux(stream)
                   if p.size]
        return stream.codec_context.name, packets


def payload(data: bytes) -> bytes:
    return data.removeprefix(AUD)


def test_names_follow_section_13_1(tmp_path: Path) -> None:
    run = record(tmp_path, users=2, seconds=3.0)
    playlists = sorted(run.files("playlist"))
    assert playlists == [f"rec/room/{SID}_room__uid_s_{uid}__uid_e_{kind}.m3u8"
                         for uid in (1, 2) for kind in ("audio", "video")]
    pattern = re.compile(rf"rec/room/{SID}_room__uid_s_[12]__uid_e_(audio|video)_\d{{17}}\.ts")
    assert all(pattern.fullmatch(key) for key in run.files("slice"))


@pytest.mark.parametrize("cname", LEGAL_CNAMES)
def test_playlists_of_any_legal_channel_name_list_their_slices_as_uris(
        tmp_path: Path, cname: str) -> None:
    run = record(tmp_path, users=1, seconds=3.0, cname=cname)
    assert sorted(run.files("playlist")) == [
        f"rec/room/{SID}_{cname}__uid_s_1__uid_e_{kind}.m3u8" for kind in ("audio", "video")]
    for key, path in run.files("playlist").items():
        names = sorted(file_name(k) for k in run.files("slice") if k.startswith(key[:-5]))
        text = path.read_text()
        assert [line for line in text.splitlines() if not line.startswith("#")] == [
            segment_uri(name) for name in names]
        assert [s.name for s in Playlist.parse(text).segments] == names


def test_every_track_holds_exactly_what_its_user_published(tmp_path: Path) -> None:
    run = record(tmp_path, users=2, seconds=5.0)
    for (uid, kind), sent in run.sent.items():
        prefix = f"rec/room/{SID}_room__uid_s_{uid}__uid_e_{kind}_"
        slices = sorted(k for k in run.files("slice") if k.startswith(prefix))
        got = [p for key in slices for p in demux(run.files("slice")[key])[1]]
        assert [payload(data) for data, _ in got] == [p.data for p in sent], (uid, kind)
        assert np.all(np.diff([t for _, t in got]) > 0)


def test_one_clock_for_every_track(tmp_path: Path) -> None:
    """TS time = channel time − recording start + 10 s; the START TIME is that channel time."""
    run = record(tmp_path, users=2, seconds=3.0)
    starts = {(e.stream_uid, e.track): e.start_ms for e in run.events()
              if isinstance(e, TrackPlaylistStarted)}
    for key, path in run.files("playlist").items():
        text = path.read_text()
        time = re.search(r"TRACK_TYPE=(AUDIO|VIDEO),TIME=(\d{17})", text)
        first = re.search(r"^(.*\.ts)$", text, re.M)
        assert time and first
        uid, kind = re.search(r"uid_s_(\d+)__uid_e_(\w+)\.m3u8", key).groups()  # type: ignore[union-attr]
        assert time.group(2) == utc17(starts[(uid, kind)])
        _, packets = demux(path.parent / first.group(1))
        channel_ms = (packets[0][1] - 10) * 1000 + T0 / 1000
        assert abs(channel_ms - starts[(uid, kind)]) <= 1
        assert first.group(1).endswith(f"_{time.group(2)}.ts")


def test_tone_and_colour_are_the_users(tmp_path: Path) -> None:
    run = record(tmp_path, users=2, seconds=3.0)
    looks = publisher_colors(2)
    for uid in (1, 2):
        colour, tone = looks[uid - 1]
        video = next(p for k, p in run.files("slice").items() if f"_s_{uid}__uid_e_video" in k)
        audio = next(p for k, p in run.files("slice").items() if f"_s_{uid}__uid_e_audio" in k)
        with av.open(str(video)) as container:
            image = next(container.decode(video=0)).to_ndarray(format="rgb24")
        assert np.abs(np.median(image[60:80, 40:120].reshape(-1, 3), axis=0) - colour).max() < 40
        with av.open(str(audio)) as container:
            samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
        spectrum = np.abs(np.fft.rfft(samples[:48_000] * np.hanning(48_000)))
        assert abs(int(np.argmax(spectrum)) - tone) <= 2


def test_playlists_slice_per_section_13_3_and_end(tmp_path: Path) -> None:
    run = record(tmp_path, users=1, seconds=7.0, slice_seconds=2.0)
    for key, path in run.files("playlist").items():
        text = path.read_text()
        assert text.startswith("#EXTM3U\n#EXT-X-VERSION:3\n") and text.endswith("#EXT-X-ENDLIST\n")
        assert text.count("#EXT-X-AGORA-TRACK-EVENT:EVENT=START") == 1
        assert text.count("#EXT-X-DISCONTINUITY") == 1
        durations = [float(d) for d in re.findall(r"#EXTINF:(\d+\.\d{6}),", text)]
        assert len(durations) == 4, key
        assert all(abs(d - 2.0) < 0.03 for d in durations[:-1])  # GOP 1 s, 20 ms audio
        assert abs(sum(durations) - 7.0) < 0.2


def test_stream_types_pick_audio_or_video(tmp_path: Path) -> None:
    audio = record(tmp_path / "a", users=1, seconds=2.0, stream_types=0)
    video = record(tmp_path / "v", users=1, seconds=2.0, stream_types=1)
    assert all(k.endswith("_audio.m3u8") for k in audio.files("playlist"))
    assert all(k.endswith("_video.m3u8") for k in video.files("playlist"))
    assert len(audio.files("playlist")) == len(video.files("playlist")) == 1


def test_a_user_who_publishes_nothing_gets_no_files(tmp_path: Path) -> None:
    def join(channel: Channel, recorder: IndividualRecorder, now: int) -> None:
        channel.join(7)

    run = record(tmp_path, users=1, seconds=2.0, at={5: join})
    assert not [k for k in run.jobs if "_s_7_" in k.key]


def _events_of(run: Run, kind: type) -> list:  # type: ignore[type-arg]
    return [e for e in run.events() if isinstance(e, kind)]


def test_restart_within_15_s_continues_after_15_s_is_a_new_segment(tmp_path: Path) -> None:
    published: dict[str, object] = {}

    def off(channel: Channel, recorder: IndividualRecorder, now: int) -> None:
        published["audio"] = next(t for t in channel.list_tracks() if t.kind == "audio")
        channel.unpublish(1, "audio")

    def on(channel: Channel, recorder: IndividualRecorder, now: int) -> None:
        channel.publish(published["audio"])  # type: ignore[arg-type]

    short = record(tmp_path / "short", users=1, seconds=5.0, at={20: off, 30: on})
    long = record(tmp_path / "long", users=1, seconds=22.0, slice_seconds=6.0,
                  at={20: off, 190: on})
    for run, restarts in ((short, 0), (long, 1)):
        text = next(p for k, p in run.files("playlist").items() if "audio" in k).read_text()
        assert text.count("EVENT=START,TRACK_TYPE=AUDIO") == 1 + restarts
        assert text.count("#EXT-X-DISCONTINUITY") == 1 + restarts
        states = [(e.track, e.state) for e in _events_of(run, StreamStateChanged)
                  if e.stream_uid == "1"]
        assert states.count(("audio", 1)) == 2 and states.count(("audio", 0)) == 2
        assert states.count(("video", 0)) == 1
        assert len([e for e in _events_of(run, SliceStarted) if e.track_type == "audio"]) == 1


def test_events_announce_each_playlist_before_its_files(tmp_path: Path) -> None:
    run = record(tmp_path, users=1, seconds=3.0)
    names = [type(e).__name__ for e in run.events()]
    assert names[:2] == ["StreamStateChanged", "StreamStateChanged"]
    for event in _events_of(run, TrackPlaylistStarted):
        announced = next(i for i, e in enumerate(run.events()) if e is event)
        written = [i for i, e in enumerate(run.events())
                   if type(e).__name__ == "PlaylistWritten" and e.key == event.key]
        assert written and announced < min(written)
    started = _events_of(run, SliceStarted)
    assert {(e.stream_uid, e.track_type) for e in started} == {("1", "audio"), ("1", "video")}
    assert names[-2:] == ["StreamStateChanged", "StreamStateChanged"]
    ended = [e for e in run.events() if type(e).__name__ == "PlaylistWritten" and e.ended]
    assert len(ended) == 2


def test_set_subscription_closes_and_starts_tracks(tmp_path: Path) -> None:
    def audio_only(channel: Channel, recorder: IndividualRecorder, now: int) -> None:
        recorder.set_subscription(Subscription(), Subscription(never=frozenset({1})))

    def back(channel: Channel, recorder: IndividualRecorder, now: int) -> None:
        recorder.set_subscription(Subscription(), Subscription())

    run = record(tmp_path, users=1, seconds=22.0, slice_seconds=6.0,
                 at={20: audio_only, 190: back})
    text = next(p for k, p in run.files("playlist").items() if "video" in k).read_text()
    assert text.count("EVENT=START,TRACK_TYPE=VIDEO") == 2
    states = [(e.track, e.state) for e in _events_of(run, StreamStateChanged)]
    assert states.count(("video", 1)) == 2 and states.count(("video", 0)) == 2


def test_adts_header_frames_raw_aac() -> None:
    asc = bytes([0x12, 0x10])  # AAC LC, 44.1 kHz, stereo
    header = adts_header(asc, 100)
    assert header[:2] == b"\xff\xf1" and len(header) == 7
    assert ((header[3] & 3) << 11 | header[4] << 3 | header[5] >> 5) == 107
    assert (header[2] >> 2) & 0xF == 4 and ((header[2] & 1) << 2 | header[3] >> 6) == 2


def test_aac_tracks_are_remuxed_with_adts(tmp_path: Path) -> None:
    """A file source's AAC (raw, with its AudioSpecificConfig) decodes from the slice."""
    from cloudrec.actors.channel.packet import TrackInfo
    from cloudrec.actors.recorder.track_output import TrackOutput, TrackTarget

    encoder = av.CodecContext.create("aac", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48_000, "mono", "fltp"
    encoder.open()
    track = TrackInfo(5, "audio", "aac", Fraction(1, 48_000), extradata=encoder.extradata,
                      sample_rate=48_000, channels=1, generation=1)
    written: list[object] = []
    output = TrackOutput(TrackTarget(tmp_path, SID, "room", (), 5, "audio", T0), written.append)
    output.start(track)
    t = np.arange(48_000) / 48_000
    wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
    frame = av.AudioFrame.from_ndarray(wave, format="fltp", layout="mono")
    frame.sample_rate, frame.pts = 48_000, 0
    for packet in encoder.encode(frame) + encoder.encode(None):
        assert packet.pts is not None
        output.write(MediaPacket(5, "audio", bytes(packet), packet.pts, Fraction(1, 48_000),
                                 True, T0 + packet.pts * 1_000_000 // 48_000, 1))
    output.close()
    path = tmp_path / f"{SID}_room__uid_s_5__uid_e_audio.m3u8"
    ts = path.parent / re.findall(r"^(.*\.ts)$", path.read_text(), re.M)[0]
    with av.open(str(ts)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
        assert sum(f.samples for f in container.decode(audio=0)) > 40_000


@pytest.mark.parametrize("kind", ["audio", "video"])
def test_set_layout_is_a_no_op(tmp_path: Path, kind: str) -> None:
    from cloudrec.events.layout import Layout

    run = record(tmp_path, users=1, seconds=1.0)
    run.recorder.set_layout(Layout(mixed_video_layout=1))
    assert run.recorder.idle_for_s(T0 + 1_000_000) == 0.0


def test_ts_time_is_convert_in_integers() -> None:
    from cloudrec.actors.recorder.timebase import MILLISECONDS, convert
    from cloudrec.actors.recorder.track_output import TrackTarget

    target = TrackTarget(Path(), SID, "room", (), 1, "audio", T0)
    for delta in (0, 1, 5, 6, 50, 150, 62_029_250, -7, -2_000_000, 123_456_789):
        expected = convert(Fraction(delta, 1000), MILLISECONDS, Fraction(1, 90_000)) + 900_000
        assert target.ts(T0 + delta) == expected, delta


def test_h264_without_key_frames_is_still_cut_at_the_forced_length(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """§13.3: a cut at 5.5 min (here shortened to 1 s) even when no key frame comes."""
    monkeypatch.setattr(track_output, "FORCED_CUT_US", 1_000_000)
    source = SyntheticPublisher(1, (255, 0, 0), 440.0, gop_seconds=60.0)
    video = next(t for t in source.tracks() if t.kind == "video")
    t0 = 1_800_000_000_000_000
    written: list = []
    output = TrackOutput(TrackTarget(workdir=tmp_path, sid="s" * 32, cname="room", prefix=(),
                                     uid=1, kind="video", start_us=t0), written.append)
    output.start(video)
    for packet in source.packets_until(3.0):
        if packet.kind == "video":
            output.write(replace(packet, channel_us=t0 + round(packet.seconds * 1e6)))
    output.close()
    slices = [w for w in written if w.kind == "slice"]
    assert [round(s.duration_s, 1) for s in slices] == [1.0, 1.0, 1.0]
    keyframes = []
    for s in slices:
        with av.open(str(s.path)) as container:
            keyframes.append([p.is_keyframe for p in container.demux(video=0) if p.size][0])
    assert keyframes == [True, False, False]  # the later slices start without a key frame


@pytest.mark.parametrize("end_known,durations", [(False, [1.0, 1.0, 0.2]), (True, [1.0, 1.2])])
def test_a_track_ending_just_after_a_cut_leaves_no_tiny_last_slice(
        tmp_path: Path, end_known: bool, durations: list[float]) -> None:
    source = SyntheticPublisher(1, (255, 0, 0), 440.0, gop_seconds=1.0)
    video = next(t for t in source.tracks() if t.kind == "video")
    t0 = 1_800_000_000_000_000
    written: list = []
    output = TrackOutput(TrackTarget(workdir=tmp_path, sid="s" * 32, cname="room", prefix=(),
                                     uid=1, kind="video", start_us=t0, slice_seconds=1.0),
                         written.append)
    output.start(video)
    if end_known:  # what the individual core sets when it finishes
        output.ends_at_us = t0 + 2_200_000
    for packet in source.packets_until(2.2):
        if packet.kind == "video":
            output.write(replace(packet, channel_us=t0 + round(packet.seconds * 1e6)))
    output.close()
    assert [round(w.duration_s, 1) for w in written if w.kind == "slice"] == durations


def test_mono_opus_is_mono_in_the_ts(tmp_path: Path) -> None:
    """The TS's Opus descriptor carries the channel count: players decode one channel."""
    run = record(tmp_path, users=1, seconds=2.5, stream_types=0)
    slices = [path for key, path in run.files("slice").items() if "uid_e_audio" in key]
    assert slices
    for path in slices:
        with av.open(str(path)) as container:
            context = container.streams.audio[0].codec_context
            assert (context.name, context.channels) == ("opus", 1)
            frames = list(container.decode(audio=0))
            assert frames and frames[0].layout.name == "mono"


def b_frame_clip(path: Path, frames: int = 45) -> None:
    """An MP4 whose H.264 has B-frames (decode order differs from presentation order)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=15)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        stream.codec_context.max_b_frames = 2
        stream.codec_context.options = {"x264-params": "bframes=2:b-adapt=0:keyint=15"}
        for i in range(frames):
            image = np.full((96, 160, 3), (i * 5) % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 15)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def test_b_frames_from_a_file_are_remuxed_whole_with_their_decode_times(tmp_path: Path) -> None:
    b_frame_clip(tmp_path / "clip.mp4")
    clock = {"now": T0}
    channel = Channel(clock=lambda: clock["now"], share_publisher_offset=True)
    channel.subscribe("rec")
    source = FileSource(str(tmp_path / "clip.mp4"), uid=5)
    for track in source.tracks():
        channel.publish(track)
    config = RecordingConfig(sid=SID, appid="app", cname="room", recorder_uid=99, generation=1,
                             workdir=tmp_path / "out", mode="individual", slice_seconds=60.0)
    jobs: list[UploadJob] = []
    recorder = IndividualRecorder(config, MemoryEventLog(), jobs.append, t0_us=T0)
    sent = []
    for step in range(1, 41):
        clock["now"] = T0 + step * 100_000
        packets = source.packets_until(step / 10)
        sent += packets
        channel.push(packets)
        recorder.receive(channel.pull("rec"))
        recorder.render(clock["now"])
    recorder.finish(clock["now"])
    assert any(p.dts is not None for p in sent)  # the clip really reorders frames
    slices = [job.path for job in jobs if job.kind == "slice"]
    with av.open(str(slices[0])) as container:
        muxed = [p for p in container.demux(video=0) if p.size]
        assert [payload(bytes(p)) for p in muxed] == [p.data for p in sent]
        assert any(p.dts < p.pts for p in muxed)
        container.seek(0)
        assert len(list(container.decode(video=0))) == 45


def test_video_playlists_say_the_picture_size_before_the_start(tmp_path: Path) -> None:
    run = record(tmp_path, users=1, seconds=2.5, stream_types=1)
    playlist = next(path for key, path in run.files("playlist").items() if "video" in key)
    tags = [line for line in playlist.read_text().splitlines() if "AGORA" in line]
    rotate = re.fullmatch(r"#EXT-X-AGORA-ROTATE:WIDTH=160,HEIGHT=90,ROTATE=0,TIME=(\d{17})",
                          tags[0])
    start = re.fullmatch(r"#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=VIDEO,TIME=(\d{17})",
                         tags[1])
    assert rotate and start and rotate[1] == start[1] and len(tags) == 2
