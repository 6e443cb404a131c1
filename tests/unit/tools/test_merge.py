"""`cloudrec merge` on individual-mode files written like the individual recorder writes them.

User 7 publishes Opus + H.264 for 8 s (160x120, red), is gone for 20 s, then publishes again for
6 s (320x240, blue). Each stretch has a flash: a white picture and a loud 1 kHz burst at the same
UTC instant, which must line up in the merged file within 40 ms.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from cloudrec.actors.recorder.timebase import utc17
from cloudrec.tools.merge import run
from cloudrec.tools.plan import MergeOptions

from .recording import RATE, T0, Run, decoded_audio, decoded_video, prefix, record

FIRST = Run(T0, 8.0, (160, 120), (200, 30, 30), flashes_ms=[T0 + 2500])
SECOND = Run(T0 + 28_000, 6.0, (320, 240), (30, 30, 200), flashes_ms=[T0 + 31_000])
SYNC = 0.040  # seconds


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("individual")
    record(folder, 7, [FIRST, SECOND])
    return folder


@pytest.fixture
def folder(recorded: Path, tmp_path: Path) -> Path:
    """A fresh copy of the recording for one test (outputs land next to the inputs)."""
    copy = tmp_path / "rec"
    copy.mkdir()
    for path in recorded.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    return copy


def flashes(path: Path) -> list[float]:
    """Output seconds where the picture turns white."""
    frames = list(decoded_video(path))
    bright = [t for (t, rgb), (_, before) in zip(frames[1:], frames[:-1], strict=True) if
              rgb.mean() > 200 >= before.mean()]
    return ([frames[0][0]] if frames[0][1].mean() > 200 else []) + bright


def bursts(path: Path) -> list[float]:
    """Output seconds where the loud burst starts (envelope over 1 ms windows)."""
    start, samples = decoded_audio(path)
    loud = np.abs(samples[: len(samples) // 48 * 48]).reshape(-1, 48).max(axis=1) > 0.35
    onsets = np.nonzero(loud[1:] & ~loud[:-1])[0] + 1
    return [start + index * 48 / RATE for index in onsets]


def duration(path: Path, kind: str) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
        assert stream.duration is not None and stream.time_base is not None
        return float(stream.duration * stream.time_base)


def earliest_slice(folder: Path, run: Run) -> str:
    """The 17-digit start of the run's earliest audio or video slice."""
    names = [p.stem.rsplit("_", 1)[1] for p in folder.glob("*.ts")]
    window = (utc17(run.start_ms - 100), utc17(run.start_ms + 100))
    return min(n for n in names if window[0] <= n <= window[1])


def test_mode1_through_the_cli_keeps_the_gap_with_the_last_frame_and_silence(folder: Path):
    done = subprocess.run([sys.executable, "-m", "cloudrec", "merge", "-f", str(folder), "-m", "1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "100%" in done.stderr
    out = folder / "7_0_merge_av.mp4"
    assert (folder / "convert-done.txt").read_text() == "7_0_merge_av.mp4\n"
    assert "7_0_merge_av.mp4" in (folder / "convert.log").read_text()
    assert duration(out, "video") == pytest.approx(34.0, abs=0.1)
    assert duration(out, "audio") == pytest.approx(34.0, abs=0.1)
    frames = dict(decoded_video(out))
    assert len(frames) == pytest.approx(34 * 15, abs=2)
    gap = frames[min(frames, key=lambda t: abs(t - 18.0))]
    assert gap.shape == (240, 320, 3)  # the largest slice resolution
    assert gap[..., 0].mean() > 150 and gap[..., 2].mean() < 80  # the red frame before the gap
    start, samples = decoded_audio(out)
    assert np.abs(samples[int(12 * RATE):int(24 * RATE)]).max() < 0.01  # silence in the gap
    assert np.abs(samples[int(4 * RATE):int(5 * RATE)]).max() > 0.05


def test_mode1_lines_audio_and_video_up_within_40_ms(folder: Path):
    assert run(MergeOptions(folder, mode=1)) == 0
    out = folder / "7_0_merge_av.mp4"
    pictures, sounds = flashes(out), bursts(out)
    assert len(pictures) == len(sounds) == 2
    for picture, sound, flash in zip(pictures, sounds, [2.5, 31.0], strict=True):
        assert abs(picture - sound) <= SYNC
        assert sound == pytest.approx(flash, abs=SYNC)


def test_skipping_absence_drops_the_20_s_gap(folder: Path):
    assert run(MergeOptions(folder, mode=1, skip_gaps=True)) == 0
    out = folder / "7_0_merge_av.mp4"
    assert duration(out, "video") == pytest.approx(14.0, abs=0.1)
    pictures, sounds = flashes(out), bursts(out)
    assert sounds == pytest.approx([2.5, 11.0], abs=SYNC)
    assert all(abs(p - s) <= SYNC for p, s in zip(pictures, sounds, strict=True))


def test_mode0_writes_one_file_per_recording_segment(folder: Path):
    assert run(MergeOptions(folder, mode=0)) == 0
    first = folder / f"7_{earliest_slice(folder, FIRST)}_av.mp4"
    second = folder / f"7_{earliest_slice(folder, SECOND)}_av.mp4"
    assert sorted(p.name for p in folder.glob("*.mp4")) == sorted([first.name, second.name])
    assert duration(first, "video") == pytest.approx(8.0, abs=0.1)
    assert duration(second, "video") == pytest.approx(6.0, abs=0.1)
    for out, flash in [(first, 2.5), (second, 3.0)]:
        assert bursts(out) == pytest.approx([flash], abs=SYNC)
        assert abs(flashes(out)[0] - bursts(out)[0]) <= SYNC


def test_mode2_writes_aac_audio_only(folder: Path):
    assert run(MergeOptions(folder, mode=2)) == 0
    out = folder / "7_0_merge.m4a"
    with av.open(str(out)) as container:
        assert [s.type for s in container.streams] == ["audio"]
        assert container.streams.audio[0].codec_context.name == "aac"
        assert container.streams.audio[0].sample_rate == RATE
    assert duration(out, "audio") == pytest.approx(34.0, abs=0.1)
    assert bursts(out) == pytest.approx([2.5, 31.0], abs=SYNC)


def test_mode3_writes_video_only_at_the_asked_size_and_rate(folder: Path):
    assert run(MergeOptions(folder, mode=3, fps=30, size=(640, 360))) == 0
    out = folder / "7_0_merge.mp4"
    with av.open(str(out)) as container:
        assert [s.type for s in container.streams] == ["video"]
        video = container.streams.video[0]
        assert (video.width, video.height) == (640, 360)
        assert video.average_rate == 30
    frames = dict(decoded_video(out))
    assert len(frames) == pytest.approx(34 * 30, abs=2)
    picture = frames[min(frames, key=lambda t: abs(t - 5.0))]
    assert picture[:, :60].max() < 40  # 4:3 pictures keep their shape: black bars at the sides
    assert picture[180, 320, 0] > 150


def test_fps_below_5_becomes_5(folder: Path):
    from cloudrec.cli import main

    assert main(["merge", "-f", str(folder), "-m", "3", "-p", "2"]) == 0
    with av.open(str(folder / "7_0_merge.mp4")) as container:
        assert container.streams.video[0].average_rate == 5


def test_skip_with_mode0_is_refused(folder: Path, capsys: pytest.CaptureFixture[str]):
    from cloudrec.cli import main

    assert main(["merge", "-f", str(folder), "-s"]) == 2
    assert "-s cannot be used with -m 0" in capsys.readouterr().err
    assert not list(folder.glob("*.mp4"))


def test_missing_slice_fails_with_a_clear_message(folder: Path):
    victim = sorted(folder.glob("*_video_*.ts"))[2]
    victim.unlink()
    done = subprocess.run([sys.executable, "-m", "cloudrec", "merge", "-f", str(folder), "-m", "1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "missing" in done.stderr and victim.name in done.stderr
    assert "Traceback" not in done.stderr
    assert not (folder / "convert-done.txt").exists()
    assert not list(folder.glob("*.mp4"))
    assert "failed" in (folder / "convert.log").read_text()


def test_aac_publisher_under_a_prefix_and_one_user_selected(tmp_path: Path):
    folder = tmp_path / "download"
    flash = Run(T0, 5.0, (160, 120), (30, 200, 30), flashes_ms=[T0 + 1700])
    record(folder / "dir1" / "dir2", 9, [flash], audio="aac")
    record(folder / "dir1" / "dir2", 10, [Run(T0, 3.0)])
    assert run(MergeOptions(folder, mode=1, uid="9")) == 0
    out = folder / "dir1" / "dir2" / "9_0_merge_av.mp4"
    assert [p.name for p in out.parent.glob("*.mp4")] == [out.name]
    assert (folder / "convert-done.txt").read_text() == "dir1/dir2/9_0_merge_av.mp4\n"
    sounds, pictures = bursts(out), flashes(out)
    assert sounds == pytest.approx([1.7], abs=SYNC)
    assert abs(pictures[0] - sounds[0]) <= SYNC


def test_a_user_with_audio_only_gets_an_audio_only_file(tmp_path: Path):
    record(tmp_path, 11, [Run(T0, 3.0)], video=False)
    assert prefix(tmp_path, 11, "audio").with_suffix(".m3u8").exists()
    assert run(MergeOptions(tmp_path, mode=1)) == 0
    with av.open(str(tmp_path / "11_0_merge_av.mp4")) as container:
        assert [s.type for s in container.streams] == ["audio"]
    assert run(MergeOptions(tmp_path, mode=3)) == 0  # nothing to write, still done
    assert (tmp_path / "convert-done.txt").read_text() == ""
