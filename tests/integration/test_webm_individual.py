"""A web sender's VP8 + Opus, recorded in individual mode (§13.1, §13.4).

A user publishes a WebM file made with PyAV (libvpx video, libopus audio), as `cloudrec publish
FILE` would, and an individual recording runs for ~8 s through the REST API. What is checked: the
user's video playlist lists `.webm` slices (percent-encoded names, as TS) that decode to the
user's colour at the sent size; the audio playlist lists TS slices holding the Opus tone.
"""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from cloudrec.actors.channel.file_source import FileSource
from cloudrec.actors.channel.handle import ChannelHandle
from cloudrec.actors.recorder.playlist import Playlist
from cloudrec.client import RecordingClient
from cloudrec.runtime import Runtime

from .media import Feeds, tone_strength

pytestmark = [pytest.mark.integration, pytest.mark.slow,
              pytest.mark.parametrize("runtime", ["embedded"], indirect=True)]

RECORD_S, FILE_S, FPS, UID = 8.0, 30.0, 15, 7101
COLOUR, HZ, RATE = (40, 90, 220), 660.0, 48_000


def write_webm(path: Path) -> None:
    """A WebM as a browser records it: VP8 video with a key frame a second, an Opus tone,
    interleaved in time (the publisher sends in file order)."""
    with av.open(str(path), "w", format="webm") as container:
        video = container.add_stream("libvpx", rate=FPS)
        video.width, video.height, video.pix_fmt = 160, 96, "yuv420p"
        video.codec_context.gop_size = FPS
        audio = container.add_stream("libopus", rate=RATE)
        audio.layout = "stereo"
        image = np.full((96, 160, 3), COLOUR, np.uint8)
        sample = 0
        for i in range(int(FILE_S * FPS)):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            container.mux(video.encode(frame))
            while sample < (i + 1) * RATE // FPS:
                container.mux(audio.encode(_tone(sample)))
                sample += 960
        container.mux(video.encode(None))
        container.mux(audio.encode(None))


def _tone(start: int) -> av.AudioFrame:
    wave = 0.3 * np.sin(2 * np.pi * HZ * np.arange(start, start + 960) / RATE)
    tone = av.AudioFrame.from_ndarray(np.tile(wave.astype(np.float32), (2, 1)), format="fltp",
                                      layout="stereo")
    tone.sample_rate, tone.pts = RATE, start
    return tone


@pytest.fixture(scope="module")
def recorded(runtime: Runtime, server: Any, customers: dict[str, tuple[str, str]],
             tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("webm")
    write_webm(folder / "web.webm")
    secret, appid = customers["alice"]
    client = RecordingClient(server.url, "alice", secret, appid)
    cname, tag = f"webm{int(time.time())}", f"{time.time_ns()}"
    channel = ChannelHandle(runtime.get_channel(appid, cname))
    feeds = Feeds(channel)
    feeds.add(UID, FileSource(str(folder / "web.webm"), UID))
    storage = {"vendor": 1, "region": 0, "bucket": "b", "accessKey": "local",
               "secretKey": "local", "fileNamePrefix": [f"web{tag}"]}
    body = {"recordingConfig": {"streamTypes": 2, "channelType": 0, "subscribeUidGroup": 0},
            "storageConfig": storage}
    resource = client.acquire(cname, "900051")
    sid = client.start(resource, cname, "900051", body, mode="individual")
    time.sleep(RECORD_S)
    client.stop(resource, sid, cname, "900051", mode="individual")
    feeds.close()
    client.close()
    return Path(runtime.settings.storage_url.removeprefix("file://")) / f"web{tag}"


def _listed(root: Path, kind: str) -> list[Path]:
    playlist = next(root.rglob(f"*__uid_s_{UID}__uid_e_{kind}.m3u8"))
    text = playlist.read_text()
    assert text.rstrip().endswith("#EXT-X-ENDLIST")
    return [playlist.parent / segment.name for segment in Playlist.parse(text).segments]


def test_vp8_video_is_listed_as_webm_slices_that_decode(recorded: Path) -> None:
    slices = _listed(recorded, "video")
    assert slices and all(path.suffix == ".webm" and path.exists() for path in slices)
    seconds = 0.0
    for path in slices:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.name, stream.width, stream.height) == ("vp8", 160, 96)
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        assert frames
        seconds += len(frames) / FPS
        middle = frames[len(frames) // 2][30:60, 50:110].reshape(-1, 3)
        assert np.abs(np.median(middle, axis=0) - COLOUR).max() < 30, path.name
    assert seconds > RECORD_S - 3


def test_opus_audio_stays_in_ts_slices_with_the_tone(recorded: Path) -> None:
    slices = _listed(recorded, "audio")
    assert slices and all(path.suffix == ".ts" for path in slices)
    frames = []
    for path in slices:
        with av.open(str(path)) as container:
            assert container.streams.audio[0].codec_context.name == "opus"
            frames += [f.to_ndarray().mean(axis=0) for f in container.decode(audio=0)]
    audio = np.concatenate(frames)
    assert len(audio) / RATE > RECORD_S - 3
    window = audio[len(audio) // 4 : len(audio) * 3 // 4]
    assert tone_strength(window, RATE, HZ) > 10 * tone_strength(window, RATE, 440.0)
