"""Every file of the conformance corpus (`tests/unit/actors/recorder/corpus.py`) published as it
is and recorded through the REST API, in mix and in individual mode at once (issue 12).

What is tried: the 24 corpus cases (H.264 baseline/main/high with and without B-frames, VP8, VP9,
AAC 8-48 kHz mono and stereo, Opus mono and stereo, G.711 mu-law and A-law, a resolution change,
a 90° display matrix, no key frame at the start, lost and garbled packets), plus three files as
users hand them over (an editor's MP4 with B-frames and AAC 44.1 kHz stereo, a web sender's VP8 +
AAC 8 kHz in Matroska, a phone's rotated H.264), each case with its own colour and tone, split
over two channels of 15 and 12 users; each channel recorded by a mix (640x360, best-fit) and an
individual recording started together.

What is checked, in the decoded files:
- mix: the MP4 decodes without an error; every user's tone is there, within a few dB of the
  others; every user's colour is in their region (the rotated ones upright);
- individual: every user's video slices decode (WebM for VP8/VP9, TS for H.264) and hold the
  packets the file holds, bit for bit, in order; playlists carry the rotation; each recordable
  audio track holds the user's own tone loudest; G.711, which no slice can carry, is left out
  (no audio file) while the user's video is recorded.
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
from cloudrec.actors.channel.synthetic import publisher_colors
from cloudrec.actors.layout.geometry import PixelRect, regions, to_pixels
from cloudrec.actors.recorder.track_output import RECORDABLE
from cloudrec.client import RecordingClient
from cloudrec.runtime import Runtime

from ..unit.actors.recorder import corpus
from ..unit.actors.recorder.test_corpus import demux_all, unframed
from .media import Decoded, Feeds, colour_at, decode, start_recording, tone_strength

pytestmark = [pytest.mark.integration, pytest.mark.slow,
              pytest.mark.parametrize("runtime", ["embedded"], indirect=True)]

RECORD_S, FPS, BEST_FIT, SECONDS = 8.0, 15, 1, 20.0
USERS_FILES = [
    corpus.Case("editor_h264-high-bframes_aac-44k-stereo", "mp4",
                corpus.Video("libx264", "high", 2), corpus.Audio("aac", 44_100, 2)),
    corpus.Case("web_vp8_aac-8k-mono", "mkv", corpus.Video("libvpx"), corpus.Audio("aac", 8_000)),
    corpus.Case("phone_h264-rotated-90_aac-48k", "mp4",
                corpus.Video("libx264", "high", rotation=90), corpus.Audio("aac")),
]


def _looks(n: int) -> list[tuple[tuple[int, int, int], float]]:
    """`n` colours far from the rotated cases' TURNED_COLOR, and tones 140 Hz apart."""
    colours = [c for c, _ in publisher_colors(n + 8)
               if np.abs(np.array(c) - corpus.TURNED_COLOR).max() > 90][:n]
    return [(colour, 330.0 + 140.0 * i) for i, colour in enumerate(colours)]


def _channels() -> list[dict[int, corpus.Case]]:
    """The cases, each its own colour and tone, as uid -> case for each of two channels."""
    cases = [*corpus.CASES[:12], *USERS_FILES, *corpus.CASES[12:]]
    looks = _looks(15)
    split = [cases[:15], cases[15:]]
    return [{8100 + 100 * c + i: replace(case, color=looks[i][0], tone_hz=looks[i][1],
                                         seconds=SECONDS)
             for i, case in enumerate(group)} for c, group in enumerate(split)]


CHANNELS = _channels()


@pytest.fixture(scope="module")
def recorded(runtime: Runtime, server: Any, customers: dict[str, tuple[str, str]],
             tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("corpus")
    secret, appid = customers["alice"]
    client = RecordingClient(server.url, "alice", secret, appid)
    tag, runs = f"{time.time_ns()}", []
    for c, cases in enumerate(CHANNELS):  # every file written before anyone publishes
        files = {uid: folder / f"{case.name}.{case.container}" for uid, case in cases.items()}
        for uid, case in cases.items():
            corpus.write(case, files[uid])
        runs.append({"cname": f"corpus{c}x{int(time.time())}", "cases": cases, "files": files})
    for c, run in enumerate(runs):  # recording first: files end while starts are slow
        group = 3 if len(run["cases"]) > 12 else 2  # individual mode: 13-17 / 8-12 users
        run["recordings"] = {mode: start_recording(client, run["cname"], f"9006{c}{i}", mode,
                                                   f"{mode}{c}x{tag}", FPS, BEST_FIT,
                                                   uid_group=group)
                             for i, mode in enumerate(("mix", "individual"))}
    feeds = [Feeds(ChannelHandle(runtime.get_channel(appid, run["cname"]))) for run in runs]
    for feed, run in zip(feeds, runs, strict=True):  # joined in uid order: their regions
        feed.add_crowd({uid: FileSource(str(path), uid) for uid, path in run["files"].items()})
    time.sleep(RECORD_S)
    for c, run in enumerate(runs):
        for i, (mode, (resource, sid)) in enumerate(run["recordings"].items()):
            client.stop(resource, sid, run["cname"], f"9006{c}{i}", mode=mode)
    for feed in feeds:
        feed.close()
    client.close()
    root = Path(runtime.settings.storage_url.removeprefix("file://"))
    for c, run in enumerate(runs):
        run.update(mix=root / f"mix{c}x{tag}", individual=root / f"individual{c}x{tag}")
    return runs


def _levels(audio: np.ndarray, rate: int, cases: dict[int, corpus.Case]) -> dict[int, float]:
    """Each user's tone strength in dB of a full-scale sine."""
    full = tone_strength(np.sin(2 * np.pi * 440 * np.arange(len(audio)) / rate), rate, 440)
    return {uid: round(20 * np.log10(tone_strength(audio, rate, case.tone_hz) / full + 1e-12), 1)
            for uid, case in cases.items()}


@pytest.mark.parametrize("channel", [0, 1])
def test_the_mix_holds_every_users_tone_at_a_like_level_and_colour(
        recorded: list[dict[str, Any]], channel: int) -> None:
    run = recorded[channel]
    cases: dict[int, corpus.Case] = run["cases"]
    mp4: Decoded = decode(next(run["mix"].rglob("*.mp4")))
    assert mp4.video_seconds > RECORD_S - 2
    rate = mp4.sample_rate  # from a second after the users joined (they did after the start)
    joined = int(np.argmax(np.abs(mp4.audio) > 0.01))
    levels = _levels(mp4.audio[joined + rate : joined + int((RECORD_S - 1) * rate)], rate, cases)
    assert min(levels.values()) > -40, levels
    assert max(levels.values()) - min(levels.values()) < 6, levels
    image = mp4.frame_at(joined / rate + RECORD_S / 2)
    for region in regions(BEST_FIT, list(cases), None):
        rect = to_pixels(region, 640, 360)
        case = cases[region.uid]
        assert case.video is not None
        if case.video.rotation == 90:  # upright: the picture's right half (TURNED) on top
            half = rect.height // 2
            assert_colour(image, replace(rect, height=half), corpus.TURNED_COLOR, case)
            rect = replace(rect, y=rect.y + half, height=half)
        assert_colour(image, rect, case.color, case)


def assert_colour(image: np.ndarray, rect: PixelRect, colour: tuple[int, int, int],
                  case: corpus.Case) -> None:
    got = colour_at(image, rect)
    assert np.abs(got - np.array(colour)).max() < 48, (case.name, rect, got, colour)


def _sent(path: Path, uid: int, kind: str) -> list[bytes]:
    """What the file source publishes of `kind`, as individual mode writes it unframed."""
    with FileSource(str(path), uid) as source:
        return [unframed(p.data) for p in source.packets_until(1e9) if p.kind == kind]


def _contiguous_in(got: list[bytes], sent: list[bytes]) -> bool:
    starts = [i for i, data in enumerate(sent) if data == got[0]]
    return any(sent[i : i + len(got)] == got for i in starts)


@pytest.mark.parametrize("channel", [0, 1])
def test_individual_mode_records_every_users_video_bit_exact_and_their_tone(
        recorded: list[dict[str, Any]], channel: int) -> None:
    run = recorded[channel]
    folder: Path = run["individual"]
    for uid, case in run["cases"].items():
        assert case.video is not None and case.audio is not None
        video = sorted(folder.rglob(f"*__uid_s_{uid}__uid_e_video_*.*"))
        webm = case.video.codec in ("vp8", "vp9")
        assert video and {p.suffix for p in video} == {".webm" if webm else ".ts"}, case.name
        got = demux_all(video, damaged=case.damage is not None)
        assert len(got) > FPS * (RECORD_S - 3), (case.name, len(got))
        assert _contiguous_in(got, _sent(run["files"][uid], uid, "video")), \
            f"{case.name}: video not the file's packets, bit for bit"
        [playlist] = folder.rglob(f"*__uid_s_{uid}__uid_e_video.m3u8")
        assert f",ROTATE={case.video.rotation},TIME=" in playlist.read_text(), case.name
        audio = sorted(folder.rglob(f"*__uid_s_{uid}__uid_e_audio_*.*"))
        if case.audio.codec not in RECORDABLE["audio"]:
            assert not audio, f"{case.name}: {case.audio.codec} has no slice format"
            continue
        samples, rate = _audio(audio)
        assert len(samples) / rate > RECORD_S - 3, case.name
        levels = _levels(samples[len(samples) // 4 : len(samples) * 3 // 4], rate, run["cases"])
        assert max(levels, key=lambda other: levels[other]) == uid, (case.name, levels)


def _audio(paths: list[Path]) -> tuple[np.ndarray, int]:
    """The slices' sound as mono 48 kHz samples (a damaged file's garbled packets, which the
    slices carry faithfully, decode to nothing)."""
    blocks = []
    for path in paths:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=48_000)
        with av.open(str(path)) as container:
            for packet in container.demux(audio=0):
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    continue
                blocks += [r.to_ndarray().reshape(-1) for f in frames
                           for r in resampler.resample(f)]
    return np.concatenate(blocks), 48_000
