"""Real slices cut where a SIGKILL would cut them, salvaged, re-opened and decoded with PyAV."""

from fractions import Fraction
from pathlib import Path

import av
import av.logging
import numpy as np
import pytest

from cloudrec.actors.recorder.hls import PROBE_BYTES, TS_OFFSET, TS_PACKET
from cloudrec.actors.recorder.salvage import salvage_file, salvage_ts

W, H, FPS, SECONDS = 360, 640, 15, 4
TB = Fraction(1, 90_000)
RATE = 48_000
TONE = 440


def picture(i: int) -> av.VideoFrame:
    """A moving gradient under a drifting checkerboard: every frame differs, and compresses."""
    y, x = np.mgrid[0:H, 0:W]
    checker = ((x // 40 + y // 40 + i // 3) % 2) * 200
    rgb = np.stack([(x + 7 * i) % 256, (y + 3 * i) % 256, checker], -1).astype(np.uint8)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    frame.pts, frame.time_base = round((TS_OFFSET + Fraction(i, FPS)) / TB), TB
    return frame


def tone(j: int) -> av.AudioFrame:
    """20 ms of a sine at TONE, at TS time TS_OFFSET + j * 20 ms."""
    t = np.arange(j * 960, (j + 1) * 960) / RATE
    samples = (0.3 * np.sin(2 * np.pi * TONE * t)).astype(np.float32)[None]
    frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
    frame.sample_rate, frame.time_base = RATE, Fraction(1, RATE)
    frame.pts = int(TS_OFFSET * RATE) + j * 960
    return frame


def write_ts(path: Path, video: bool = True, audio: str | None = "aac", skip_video: int = 0):
    """SECONDS of media muxed as the recorder does: TS time = media time + TS_OFFSET.

    `skip_video` drops the first encoded video packets, so the video starts mid-GOP.
    """
    with av.open(str(path), "w", format="mpegts") as out:
        streams = []
        if video:
            v = out.add_stream("libx264", rate=FPS, options={"preset": "veryfast"})
            v.width, v.height, v.pix_fmt = W, H, "yuv420p"
            v.codec_context.time_base, v.codec_context.gop_size = TB, FPS  # a key frame a second
            streams.append(("video", v, [picture(i) for i in range(SECONDS * FPS)] + [None]))
        if audio:
            a = out.add_stream(audio, rate=RATE, layout="mono")
            streams.append(("audio", a, [tone(j) for j in range(SECONDS * 50)] + [None]))
        skipped = 0
        for kind, packet in interleaved(streams):
            if kind == "video" and skipped < skip_video:
                skipped += 1
                continue
            out.mux(packet)
    return path


def interleaved(streams):
    """Encode all streams step by step (one video frame, then its 20 ms audio frames)."""
    steps = max(len(frames) for _, _, frames in streams)
    for step in range(steps):
        for kind, stream, frames in streams:
            share = 1 if kind == "video" or len(streams) == 1 else 50 / FPS
            for frame in frames[round(step * share): round((step + 1) * share)]:
                for packet in stream.encode(frame):
                    yield kind, packet


def demuxed(path: Path) -> list[tuple[str, int, int, int, int]]:
    """(kind, pts, dts, end pts, byte position) of every packet, in file order."""
    with av.open(str(path)) as container:
        frame = {s.index: round(1 / s.guessed_rate / TB) for s in container.streams.video}
        return [
            (p.stream.type, p.pts, p.dts, p.pts + (p.duration or frame[p.stream.index]), p.pos)
            for p in container.demux() if p.size
        ]


def decoded(path: Path) -> dict[str, dict[int, np.ndarray]]:
    """Every frame's samples or pixels by pts, per kind; any FFmpeg complaint fails the test."""
    frames: dict[str, dict[int, np.ndarray]] = {"video": {}, "audio": {}}
    av.logging.set_level(av.logging.WARNING)
    try:
        with av.logging.Capture() as logs, av.open(str(path)) as container:
            for frame in container.decode(*container.streams.video, *container.streams.audio):
                kind = "video" if isinstance(frame, av.VideoFrame) else "audio"
                assert kind == "audio" or (frame.width, frame.height) == (W, H)
                frames[kind][frame.pts] = frame.to_ndarray()
    finally:
        av.logging.set_level(None)
    assert logs == []
    return frames


def pts_of(packets, kind: str) -> list[int]:
    return [p[1] for p in packets if p[0] == kind]


def cut(original: Path, at: int, tmp_path: Path) -> Path:
    path = tmp_path / f"cut_{at}.ts"
    path.write_bytes(original.read_bytes()[:at])
    return path


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    return write_ts(tmp_path_factory.mktemp("salvage") / "slice.ts")


@pytest.fixture(scope="module")
def reference(original):
    return demuxed(original), decoded(original)


def cut_points(size: int) -> list[int]:
    at = [round(size * f) // TS_PACKET * TS_PACKET for f in (0.30, 0.61, 0.97)]
    return at + [round(size * 0.45) // TS_PACKET * TS_PACKET + 77]  # and a TS packet cut short


def test_the_original_is_what_the_tests_assume(original, reference):
    packets, frames = reference
    assert pts_of(packets, "video")[0] == round(TS_OFFSET / TB)
    assert len(frames["video"]) == SECONDS * FPS and len(frames["audio"]) > SECONDS * 45
    assert original.stat().st_size % TS_PACKET == 0 and original.stat().st_size > 200_000


@pytest.mark.parametrize("point", [0, 1, 2, 3])
def test_a_cut_slice_is_rewritten_whole_with_its_own_timestamps(
        original, reference, tmp_path, point):
    packets, _ = reference
    at = cut_points(original.stat().st_size)[point]
    path = cut(original, at, tmp_path)
    salvaged = salvage_ts(path)
    assert salvaged is not None and salvaged.path == path
    after = demuxed(path)
    assert salvaged.size == path.stat().st_size and salvaged.packets == len(after)
    assert salvaged.has_video_key
    before_cut = [p for p in packets if p[4] < at]
    for kind in ("video", "audio"):  # the same packets, with the same pts, from the same start
        kept = pts_of(after, kind)
        assert kept == pts_of(packets, kind)[: len(kept)]
        assert len(kept) >= len(pts_of(before_cut, kind)) - 4
        assert [p[2] for p in after if p[0] == kind] == [p[2] for p in packets if p[0] == kind][
            : len(kept)]
    assert {p[:2] for p in after} <= {p[:2] for p in before_cut}  # nothing from beyond the cut
    assert pts_of(after, "video")[0] == pts_of(packets, "video")[0]
    assert salvaged.first_s == float(min(p[1] for p in packets) * TB)
    assert salvaged.end_s == float(max(p[3] for p in after) * TB)


@pytest.mark.parametrize("point", [0, 1, 2, 3])
def test_a_salvaged_slice_decodes_cleanly_to_the_original_pictures_and_sound(
        original, reference, tmp_path, point):
    _, frames = reference
    path = cut(original, cut_points(original.stat().st_size)[point], tmp_path)
    assert salvage_ts(path) is not None
    got = decoded(path)
    assert got["video"] and got["audio"]
    for kind in ("video", "audio"):
        for pts, data in got[kind].items():
            np.testing.assert_array_equal(data, frames[kind][pts])
    assert all(np.abs(a).max() > 0.1 for a in list(got["audio"].values())[2:])


def test_the_end_follows_the_cut_and_never_passes_it(original, reference, tmp_path):
    packets, _ = reference
    size = original.stat().st_size
    ends = []
    for at in sorted(cut_points(size)) + [round(size * f) for f in (0.1, 0.5, 0.8)]:
        salvaged = salvage_ts(cut(original, at, tmp_path))
        assert salvaged is not None
        written = float(max(p[3] for p in packets if p[4] < at) * TB)  # media time at the cut
        assert written - 0.5 < salvaged.end_s <= written
        ends.append((at, salvaged.end_s))
    ends.sort()
    assert all(a[1] < b[1] for a, b in zip(ends, ends[1:], strict=False))
    last_video = max(pts_of(packets, "video")) * TB
    assert ends[-1][1] < last_video  # the original tail beyond the cut is gone


def test_every_cut_position_gives_a_clean_file(original, reference, tmp_path):
    """A sweep of odd cut positions: none may leave a half-written picture or sound behind."""
    _, frames = reference
    size = original.stat().st_size
    cuts = range(3 * TS_PACKET * 13 + 5, size, size // 9 + 41)
    salvaged = [cut(original, at, tmp_path) for at in cuts]
    salvaged = [path for path in salvaged if salvage_ts(path) is not None]
    assert len(salvaged) >= len(cuts) - 1  # only a cut inside the first key frame leaves nothing
    for path in salvaged:
        got = decoded(path)
        for kind in ("video", "audio"):
            for pts, data in got[kind].items():
                np.testing.assert_array_equal(data, frames[kind][pts], err_msg=path.name)


@pytest.mark.parametrize("at", [0, 100, 300, 2 * TS_PACKET])
def test_a_cut_in_the_first_bytes_is_dropped_and_left_as_is(original, tmp_path, at):
    path = cut(original, at, tmp_path)
    assert salvage_ts(path) is None
    assert path.read_bytes() == original.read_bytes()[:at]
    assert sorted(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_bytes_that_are_no_ts_are_dropped_and_left_as_is(tmp_path):
    path = tmp_path / "noise.ts"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 50_000, np.uint8).tobytes())
    before = path.read_bytes()
    assert salvage_ts(path) is None
    assert path.read_bytes() == before


@pytest.mark.parametrize("codec", ["aac", "libopus"])
def test_an_audio_only_slice_is_salvaged(tmp_path, codec):
    whole = write_ts(tmp_path / "whole.ts", video=False, audio=codec)
    packets, frames = demuxed(whole), decoded(whole)
    path = cut(whole, round(whole.stat().st_size * 0.6) + 50, tmp_path)
    salvaged = salvage_ts(path)
    assert salvaged is not None and not salvaged.has_video_key
    after = demuxed(path)
    assert [p[0] for p in after] == ["audio"] * len(after)
    kept = pts_of(after, "audio")
    assert kept == pts_of(packets, "audio")[: len(kept)]
    assert len(packets) * 0.5 < len(kept) < len(packets) * 0.7
    got = decoded(path)["audio"]
    assert got and all(np.abs(a).max() > 0.1 for a in list(got.values())[2:])
    for pts, data in got.items():
        np.testing.assert_array_equal(data, frames["audio"][pts])


def test_video_before_the_first_key_frame_is_dropped(tmp_path):
    whole = write_ts(tmp_path / "whole.ts", skip_video=5)  # starts 5 frames into a GOP
    packets = demuxed(whole)
    path = cut(whole, round(whole.stat().st_size * 0.7), tmp_path)
    salvaged = salvage_ts(path)
    assert salvaged is not None and salvaged.has_video_key
    with av.open(str(path)) as container:
        first = next(p for p in container.demux(video=0) if p.size)
        assert first.is_keyframe and first.pts == round((TS_OFFSET + 1) / TB)  # the 2nd second
    assert pts_of(demuxed(path), "audio")[0] == pts_of(packets, "audio")[0]  # audio stays
    assert decoded(path)["video"]


def test_video_without_a_key_frame_is_dropped_and_left_as_is(tmp_path):
    whole = write_ts(tmp_path / "whole.ts", audio=None, skip_video=1)
    path = cut(whole, round(whole.stat().st_size * 0.15), tmp_path)  # inside the first GOP
    before = path.read_bytes()
    assert salvage_ts(path) is None
    assert path.read_bytes() == before


def test_salvage_file_handles_ts_slices_only(original, tmp_path):
    at = round(original.stat().st_size * 0.5)
    ts = cut(original, at, tmp_path)
    assert salvage_file(ts) is not None
    mp4 = tmp_path / "part.mp4"
    mp4.write_bytes(original.read_bytes()[:at])
    assert salvage_file(mp4) is None
    assert mp4.read_bytes() == original.read_bytes()[:at]


def test_a_salvaged_slice_too_small_to_probe_is_padded(tmp_path):
    whole = write_ts(tmp_path / "whole.ts", video=False)
    path = cut(whole, 12 * TS_PACKET, tmp_path)  # tables and a few 20 ms AAC frames
    salvaged = salvage_ts(path)
    assert salvaged is not None and 1 <= salvaged.packets <= 4
    assert salvaged.size == path.stat().st_size >= PROBE_BYTES
    assert len(decoded(path)["audio"]) == salvaged.packets  # opens alone, as a player would
