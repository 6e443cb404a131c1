"""Real frames in, real files out: re-open every slice and MP4 with PyAV and check their insides."""

from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest

from cloudrec.actors.recorder.hls import TS_OFFSET
from cloudrec.actors.recorder.naming import file_name
from cloudrec.actors.recorder.output import OutputConfig, RecordingOutput
from cloudrec.actors.recorder.playlist import Playlist, segment_uri

from ...api.names import LEGAL_CNAMES

SID = "38f8e3cfdc474cd56fc1ceba380d7e1a"
T0 = 1560238366073  # 2019-06-11 07:32:46.073 UTC
W, H, FPS = 96, 64, 15
RED = (200, 30, 30)
TONE = 440


def config(workdir: Path, **changes) -> OutputConfig:
    base = OutputConfig(
        workdir=workdir, sid=SID, cname="room42", start_ms=T0, prefix=["rec", "room42"],
        width=W, height=H, fps=FPS, slice_seconds=3.0, av_file_types=("hls", "mp4"),
    )
    return replace(base, **changes)


def feed(output: RecordingOutput, start_ms: float, seconds: float, jitter_ms: float = 0.0):
    """Push a solid RED canvas at FPS and a TONE in 20 ms frames, on channel time from start_ms."""
    image = np.full((H, W, 3), RED, np.uint8)
    for i in range(round(seconds * FPS)):
        t_ms = start_ms + i * 1000 / FPS
        for j in range(round(i * 50 / FPS), round((i + 1) * 50 / FPS)):
            output.push_audio(sine_frame(j), start_ms + j * 20 + jitter_ms * (j % 2))
        output.push_video(av.VideoFrame.from_ndarray(image, format="rgb24"), t_ms)


def sine_frame(j: int) -> av.AudioFrame:
    t = np.arange(j * 960, (j + 1) * 960) / 48000
    frame = av.AudioFrame.from_ndarray(
        (0.3 * np.sin(2 * np.pi * TONE * t)).astype(np.float32)[None], format="fltp", layout="mono"
    )
    frame.sample_rate = 48000
    return frame


def record(cfg: OutputConfig, start_ms: float, seconds: float, **feed_args):
    files = []
    output = RecordingOutput(cfg, files.append)
    output.mark_track_start("VIDEO", int(start_ms))
    output.mark_track_start("AUDIO", int(start_ms))
    feed(output, start_ms, seconds, **feed_args)
    output.close()
    return files


def decode(path: Path) -> dict:
    """Every frame of a file, with codecs, key flags, pts and colour/tone probes."""
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        info = {"codecs": (video.codec_context.name, audio.codec_context.name),
                "size": (video.codec_context.width, video.codec_context.height),
                "video": [], "audio": []}
        for frame in container.decode(video, audio):
            info[frame.__class__.__name__[:5].lower()].append(frame)
    return info


def video_span(frames) -> float:
    return float(frames[-1].time - frames[0].time) + 1 / FPS


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    cfg = config(tmp_path_factory.mktemp("rec"))
    return cfg, record(cfg, T0, 7.0, jitter_ms=1.0)


def of_kind(files, kind):
    return [f for f in files if f.kind == kind]


def test_slices_are_named_by_their_utc_start(recording):
    cfg, files = recording
    keys = [f.key for f in of_kind(files, "slice")]
    assert keys == [
        f"rec/room42/{SID}_room42_20190611073246073.ts",
        f"rec/room42/{SID}_room42_20190611073249073.ts",
        f"rec/room42/{SID}_room42_20190611073252073.ts",
    ]
    assert [f.start_ms for f in of_kind(files, "slice")] == [T0, T0 + 3000, T0 + 6000]
    assert [f.index for f in of_kind(files, "slice")] == [0, 1, 2]


def test_reported_files_exist_with_their_size(recording):
    cfg, files = recording
    playlists = of_kind(files, "playlist")
    for f in [f for f in files if f.kind != "playlist"] + playlists[-1:]:  # playlist is rewritten
        assert f.path == cfg.workdir / f.key
        assert f.path.stat().st_size == f.size > 0
    assert [f.index for f in playlists] == [1, 2, 3]
    assert [f.kind for f in files[:2]] == ["slice", "playlist"]  # playlist after each slice
    assert {f.key for f in of_kind(files, "playlist")} == {f"rec/room42/{SID}_room42.m3u8"}
    assert [f.key for f in of_kind(files, "mp4")] == [f"rec/room42/{SID}_room42_0.mp4"]


def test_every_slice_decodes_from_a_key_frame_with_audio_and_video(recording):
    cfg, files = recording
    slices = of_kind(files, "slice")
    for f in slices:
        info = decode(f.path)
        assert info["codecs"] == ("h264", "aac")
        assert info["size"] == (W, H)
        assert info["video"][0].key_frame
        assert info["audio"], f.key
        for kind in ("video", "audio"):
            pts = [frame.pts for frame in info[kind]]
            assert pts == sorted(pts) and len(set(pts)) == len(pts)
        assert video_span(info["video"]) == pytest.approx(f.duration_s, abs=1e-3)
    assert [f.duration_s for f in slices] == pytest.approx([3.0, 3.0, 1.0], abs=1e-3)


def test_slices_continue_one_timeline(recording):
    cfg, files = recording
    firsts = [decode(f.path)["video"][0].time for f in of_kind(files, "slice")]
    assert [float(t - TS_OFFSET) for t in firsts] == pytest.approx([0.0, 3.0, 6.0], abs=1e-3)


def test_audio_of_each_slice_lies_within_its_span(recording):
    cfg, files = recording
    for f in of_kind(files, "slice"):
        info = decode(f.path)
        start = info["video"][0].time
        audio_start = info["audio"][0].time
        audio_end = info["audio"][-1].time + info["audio"][-1].samples / 48000
        assert audio_start == pytest.approx(start, abs=0.05)
        assert audio_end == pytest.approx(start + f.duration_s, abs=0.05)


def test_playlist_lists_every_slice(recording):
    cfg, files = recording
    text = (cfg.workdir / f"rec/room42/{SID}_room42.m3u8").read_text()
    lines = text.splitlines()
    assert lines[:5] == ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-MEDIA-SEQUENCE:0",
                         "#EXT-X-ALLOW-CACHE:YES", "#EXT-X-TARGETDURATION:3"]
    assert lines[5:8] == [
        "#EXT-X-DISCONTINUITY",
        "#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=VIDEO,TIME=20190611073246073",
        "#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=AUDIO,TIME=20190611073246073",
    ]
    assert lines[-1] == "#EXT-X-ENDLIST"
    playlist = Playlist.parse(text)
    slices = of_kind(files, "slice")
    assert [s.name for s in playlist.segments] == [file_name(f.key) for f in slices]
    assert [s.duration for s in playlist.segments] == [round(f.duration_s, 6) for f in slices]
    assert playlist.duration == pytest.approx(7.0, abs=1e-3)
    assert all(line.endswith(",") for line in lines if line.startswith("#EXTINF:"))


def test_mp4_holds_the_whole_recording(recording):
    cfg, files = recording
    mp4, = of_kind(files, "mp4")
    info = decode(mp4.path)
    assert info["codecs"] == ("h264", "aac") and info["size"] == (W, H)
    assert len(info["video"]) == 7 * FPS
    assert info["video"][0].key_frame and info["video"][0].time == pytest.approx(0.0, abs=1e-3)
    assert video_span(info["video"]) == pytest.approx(7.0, abs=1e-3) == mp4.duration_s
    samples = sum(frame.samples for frame in info["audio"])
    assert samples / 48000 == pytest.approx(7.0, abs=0.05)


@pytest.mark.parametrize("kind", ["slice", "mp4"])
def test_colour_and_tone_survive(recording, kind):
    cfg, files = recording
    info = decode(of_kind(files, kind)[0].path)
    pixel = info["video"][len(info["video"]) // 2].to_ndarray(format="rgb24")[H // 2, W // 2]
    assert np.abs(pixel.astype(int) - RED).max() < 12
    signal = np.concatenate([frame.to_ndarray()[0] for frame in info["audio"]])[4800:52800]
    freqs = np.fft.rfftfreq(len(signal), 1 / 48000)
    assert freqs[np.argmax(np.abs(np.fft.rfft(signal)))] == pytest.approx(TONE, abs=2)


def test_mp4_splits_on_a_key_frame_after_the_limit(tmp_path):
    cfg = config(tmp_path, slice_seconds=1.0, mp4_max_seconds=1.0)
    mp4s = of_kind(record(cfg, T0, 2.4), "mp4")
    assert [f.key for f in mp4s] == [f"rec/room42/{SID}_room42_{i}.mp4" for i in range(3)]
    assert sum(f.duration_s for f in mp4s) == pytest.approx(2.4, abs=1e-3)
    for f in mp4s:
        info = decode(f.path)
        assert info["video"][0].key_frame and info["audio"]
        assert video_span(info["video"]) == pytest.approx(f.duration_s, abs=1e-3)


def test_pts_follow_channel_time_not_frame_count(tmp_path):
    cfg = config(tmp_path, av_file_types=("hls",), slice_seconds=1.0)
    files = record(cfg, T0 + 500, 1.0)
    first, = of_kind(files, "slice")
    assert first.start_ms == T0 + 500
    assert first.key.endswith("_20190611073246573.ts")
    assert decode(first.path)["video"][0].time - TS_OFFSET == pytest.approx(0.5, abs=1e-3)


def test_failover_writes_bak_files_and_continues_the_playlist(tmp_path):
    before = record(config(tmp_path / "a", av_file_types=("hls",)), T0, 1.0)
    old_text = before[-1].path.read_text()
    cfg = config(tmp_path, failover=0, continue_playlist=old_text)
    files = record(cfg, T0 + 60_000, 1.0)
    keys = [f.key for f in files]
    assert keys == [f"rec/room42/bak0_{SID}_room42_20190611073346073.ts",
                    f"rec/room42/{SID}_room42.m3u8",
                    f"rec/room42/bak0_{SID}_room42_0.mp4"]
    playlist = Playlist.parse(files[1].path.read_text())
    assert [s.name for s in playlist.segments] == [
        f"{SID}_room42_20190611073246073.ts", f"bak0_{SID}_room42_20190611073346073.ts"]
    assert [s.discontinuity for s in playlist.segments] == [True, True]
    assert files[1].index == 2 and playlist.ended


@pytest.mark.parametrize("cname", LEGAL_CNAMES)
def test_any_legal_channel_name_is_listed_as_uris_and_continued_after_failover(
        tmp_path: Path, cname: str) -> None:
    before = record(config(tmp_path, cname=cname, av_file_types=("hls",)), T0, 1.0)
    cfg = config(tmp_path, cname=cname, failover=0, av_file_types=("hls",),
                 continue_playlist=before[-1].path.read_text())
    after = record(cfg, T0 + 60_000, 1.0)
    slices = [file_name(f.key) for f in [*before, *after] if f.kind == "slice"]
    assert all((tmp_path / "rec/room42" / name).is_file() for name in slices)
    text = after[-1].path.read_text()
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        segment_uri(name) for name in slices]
    assert [s.name for s in Playlist.parse(text).segments] == slices


def test_failover_without_previous_playlist_starts_a_bak_playlist(tmp_path):
    files = record(config(tmp_path, failover=1, av_file_types=("hls",)), T0, 0.5)
    assert files[-1].key == f"rec/room42/bak1_{SID}_room42.m3u8"


@pytest.mark.parametrize("end_known,durations", [(False, [3.0, 3.0, 0.2]), (True, [3.0, 3.2])])
def test_a_recording_ending_just_after_a_cut_leaves_no_tiny_last_slice(
        tmp_path: Path, end_known: bool, durations: list[float]) -> None:
    files: list = []
    output = RecordingOutput(config(tmp_path, av_file_types=("hls",)), files.append)
    if end_known:  # what the recorder says when it finishes: the end, 0.2 s after the 6 s cut
        output.end_at(T0 + 6200)
    feed(output, T0, 6.2)
    output.close()
    assert [round(f.duration_s, 1) for f in files if f.kind == "slice"] == durations
