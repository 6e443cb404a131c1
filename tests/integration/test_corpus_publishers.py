"""Two files of the conformance corpus (`tests/unit/actors/recorder/corpus.py`) published as they
are and recorded together through the REST API, in mix and in individual mode (issue 12).

User 8001 publishes an MP4 as an editor writes it (H.264 high profile with B-frames, AAC 44.1 kHz
stereo), user 8002 one as a web sender's recording (VP8, AAC 8 kHz mono, in Matroska), user 8003
a phone's (H.264 with a 90° display matrix, AAC 48 kHz). What is checked: the composite holds
every tone within a few dB of the others and every colour in its region (the phone's picture
upright); individual mode writes the VP8 video into WebM slices and the H.264 into TS, tags the
phone's playlist ROTATE=90, and keeps each user's tone in their audio.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from cloudrec.actors.channel.file_source import FileSource
from cloudrec.actors.channel.handle import ChannelHandle
from cloudrec.actors.layout.geometry import PixelRect, regions, to_pixels
from cloudrec.client import RecordingClient
from cloudrec.runtime import Runtime

from ..unit.actors.recorder import corpus
from .media import Decoded, Feeds, colour_at, decode, start_recording, tone_strength

pytestmark = [pytest.mark.integration, pytest.mark.slow,
              pytest.mark.parametrize("runtime", ["embedded"], indirect=True)]

RECORD_S, FPS, BEST_FIT = 6.0, 15, 1
CASES = {
    8001: corpus.Case("h264-high-bframes_aac-44k-stereo", "mp4", corpus.Video("libx264", "high", 2),
                      corpus.Audio("aac", 44_100, 2), color=(220, 40, 40), tone_hz=440.0,
                      seconds=30.0),
    8002: corpus.Case("vp8_aac-8k-mono", "mkv", corpus.Video("libvpx"), corpus.Audio("aac", 8_000),
                      color=(40, 70, 230), tone_hz=660.0, seconds=30.0),
    8003: corpus.Case("h264-rotated-90_aac-48k", "mp4",
                      corpus.Video("libx264", "high", rotation=90), corpus.Audio("aac"),
                      color=(230, 210, 40), tone_hz=880.0, seconds=30.0),
}
PHONE = 8003


@pytest.fixture(scope="module")
def recorded(runtime: Runtime, server: Any, customers: dict[str, tuple[str, str]],
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("corpus")
    secret, appid = customers["alice"]
    client = RecordingClient(server.url, "alice", secret, appid)
    cname, tag = f"corpus{int(time.time())}", f"{time.time_ns()}"
    channel = ChannelHandle(runtime.get_channel(appid, cname))
    feeds = Feeds(channel)
    for uid, case in CASES.items():  # one after the other: the join order fixes the regions
        path = folder / f"{case.name}.{case.container}"
        corpus.write(case, path)
        feeds.add(uid, FileSource(str(path), uid))
    mix = start_recording(client, cname, "900051", "mix", f"mix{tag}", FPS, BEST_FIT)
    individual = start_recording(client, cname, "900052", "individual", f"ind{tag}")
    time.sleep(RECORD_S)
    client.stop(*mix[:2], cname, "900051", mode="mix")
    client.stop(*individual[:2], cname, "900052", mode="individual")
    feeds.close()
    client.close()
    root = Path(runtime.settings.storage_url.removeprefix("file://"))
    return {"mix": root / f"mix{tag}", "individual": root / f"ind{tag}"}


def _levels(audio: np.ndarray, rate: int) -> dict[int, float]:
    """Each user's tone strength in dB of a full-scale sine."""
    full = tone_strength(np.sin(2 * np.pi * 440 * np.arange(len(audio)) / rate), rate, 440)
    return {uid: 20 * np.log10(tone_strength(audio, rate, case.tone_hz) / full + 1e-12)
            for uid, case in CASES.items()}


def test_the_mix_holds_both_tones_at_a_like_level_and_both_colours(
        recorded: dict[str, Any]) -> None:
    mp4: Decoded = decode(next(recorded["mix"].rglob("*.mp4")))
    rate = mp4.sample_rate
    levels = _levels(mp4.audio[rate : len(mp4.audio) - rate], rate)
    assert min(levels.values()) > -25 and max(levels.values()) - min(levels.values()) < 3, levels
    image = mp4.frame_at(mp4.video_seconds / 2)
    for region in regions(BEST_FIT, list(CASES), None):
        rect = to_pixels(region, 640, 360)
        if region.uid == PHONE:  # upright: the picture's right half (TURNED_COLOR) on top
            half = rect.height // 2
            assert_colour(image, replace(rect, height=half), corpus.TURNED_COLOR)
            rect = replace(rect, y=rect.y + half, height=half)
        assert_colour(image, rect, CASES[region.uid].color)


def assert_colour(image: np.ndarray, rect: PixelRect, colour: tuple[int, int, int]) -> None:
    got = colour_at(image, rect)
    assert np.abs(got - np.array(colour)).max() < 48, (rect, got, colour)


@pytest.mark.parametrize("uid", list(CASES))
def test_individual_mode_records_each_users_video_and_tone(
        recorded: dict[str, Any], uid: int) -> None:
    folder = recorded["individual"]
    video = sorted(folder.rglob(f"*__uid_s_{uid}__uid_e_video_*.*"))
    assert video and {p.suffix for p in video} == {".webm" if uid == 8002 else ".ts"}
    for path in video:
        with av.open(str(path)) as container:
            assert list(container.decode(video=0))
    [playlist] = folder.rglob(f"*__uid_s_{uid}__uid_e_video.m3u8")
    rotation = 90 if uid == PHONE else 0
    assert f",ROTATE={rotation},TIME=" in playlist.read_text()
    audio = []
    for path in sorted(folder.rglob(f"*__uid_s_{uid}__uid_e_audio_*.ts")):
        with av.open(str(path)) as container:
            audio += [f.to_ndarray().mean(axis=0) for f in container.decode(audio=0)]
            rate = container.streams.audio[0].sample_rate
    samples = np.concatenate(audio)
    assert len(samples) / rate > RECORD_S - 2
    levels = _levels(samples[len(samples) // 4 : len(samples) * 3 // 4], rate)
    assert max(levels, key=lambda other: levels[other]) == uid, levels
