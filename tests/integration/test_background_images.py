"""Background images end to end (spec §5.1, §12.5-12.6), through the REST API on a real Ray
cluster.

What is tried: a mix (custom layout: user VIDEO on the left, user VOICE, who publishes audio
only, on the right, a strip of canvas between them) with a BMP `backgroundImage` and a JPG
`defaultUserBackgroundImage` served by an HTTP server on loopback, which the operator allowed
for this test session (conftest: CLOUDREC_ALLOW_PRIVATE_IMAGE_HOSTS=127.0.0.0/8); VIDEO's own
`backgroundConfig` image is missing (404). What is checked in the MP4: the canvas image between
the regions, VIDEO's colour, and in VOICE's region the default user image once VOICE has been
without video for 3.5 s (not before); the missing image is one warning callback (warnCode 104).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cloudrec.actors.channel.handle import ChannelHandle
from cloudrec.actors.channel.packet import MediaPacket, TrackInfo
from cloudrec.actors.channel.synthetic import SyntheticPublisher
from cloudrec.actors.layout.geometry import PixelRect
from cloudrec.client import RecordingClient
from cloudrec.projections import callbacks
from cloudrec.runtime import Runtime

from ..unit.actors.recorder.stills import image_server, serve, solid
from .media import Feeds, colour_at, decode

pytestmark = [pytest.mark.integration, pytest.mark.slow,
              pytest.mark.parametrize("runtime", ["embedded"], indirect=True)]

VIDEO, VOICE, RECORD_S = 7101, 7102, 7.0
SLATE, PINK, VIDEO_COLOUR = (40, 90, 160), (250, 170, 200), (220, 200, 40)
WIDTH, HEIGHT = 640, 360
LEFT, MIDDLE, RIGHT = (PixelRect(0, 0, 256, 360), PixelRect(256, 0, 128, 360),
                       PixelRect(384, 0, 256, 360))


class AudioOnly:
    """A synthetic user who publishes only their voice."""

    def __init__(self, source: SyntheticPublisher) -> None:
        self.source = source

    def tracks(self) -> list[TrackInfo]:
        return [t for t in self.source.tracks() if t.kind == "audio"]

    def packets_until(self, media_seconds: float) -> list[MediaPacket]:
        return [p for p in self.source.packets_until(media_seconds) if p.kind == "audio"]


def transcoding(base: str) -> dict[str, Any]:
    regions = [{"uid": str(VIDEO), "x_axis": 0.0, "y_axis": 0.0, "width": 0.4, "height": 1.0},
               {"uid": str(VOICE), "x_axis": 0.6, "y_axis": 0.0, "width": 0.4, "height": 1.0}]
    return {"width": WIDTH, "height": HEIGHT, "fps": 15, "bitrate": 800, "mixedVideoLayout": 3,
            "layoutConfig": regions, "backgroundColor": "#000000",
            "backgroundImage": f"{base}/canvas.bmp",
            "defaultUserBackgroundImage": f"{base}/user.jpg",
            "backgroundConfig": [{"uid": str(VIDEO), "image_url": f"{base}/missing.jpg"}]}


@pytest.fixture(scope="module")
def recorded(runtime: Runtime, server: Any, customers: dict[str, tuple[str, str]]
             ) -> dict[str, Any]:
    secret, appid = customers["alice"]
    client = RecordingClient(server.url, "alice", secret, appid)
    cname, prefix = f"images{int(time.time())}", f"img{time.time_ns()}"
    feeds = Feeds(ChannelHandle(runtime.get_channel(appid, cname)))
    feeds.add(VIDEO, SyntheticPublisher(VIDEO, VIDEO_COLOUR, 440.0))
    feeds.add(VOICE, AudioOnly(SyntheticPublisher(VOICE, (0, 0, 0), 880.0)))
    routes = {"/canvas.bmp": serve(solid(SLATE, 320, 180, "bmp"), "image/bmp"),
              "/user.jpg": serve(solid(PINK, 200, 300))}
    with image_server(routes) as base:
        storage = {"vendor": 1, "region": 0, "bucket": "b", "accessKey": "local",
                   "secretKey": "local", "fileNamePrefix": [prefix]}
        body = {"recordingConfig": {"streamTypes": 2, "channelType": 0,
                                    "transcodingConfig": transcoding(base)},
                "recordingFileConfig": {"avFileType": ["hls", "mp4"]}, "storageConfig": storage}
        resource = client.acquire(cname, "900061")
        sid = client.start(resource, cname, "900061", body)
        time.sleep(RECORD_S)
        client.stop(resource, sid, cname, "900061")
    feeds.close()
    client.close()
    root = Path(runtime.settings.storage_url.removeprefix("file://"))
    return {"mp4": decode(next((root / prefix).rglob("*.mp4"))),
            "notices": callbacks.notifications(runtime.events.read_stream(sid), sid)}


def near(image: np.ndarray, rect: PixelRect, rgb: tuple[int, int, int]) -> bool:
    return bool(np.abs(colour_at(image, rect) - rgb).max() < 30)


def test_the_canvas_image_and_the_users_without_video(recorded: dict[str, Any]) -> None:
    mp4 = recorded["mp4"]
    assert (mp4.width, mp4.height) == (WIDTH, HEIGHT) and mp4.video_seconds > RECORD_S - 2
    late = mp4.frame_at(mp4.video_seconds - 1.0)
    assert near(late, MIDDLE, SLATE)  # the BMP where the background shows
    assert near(late, RIGHT, PINK)  # VOICE has had no video for over 3.5 s: the JPG
    assert near(late, LEFT, VIDEO_COLOUR)  # VIDEO's own image failed: its video, as before
    assert not near(mp4.frame_at(1.5), RIGHT, PINK)  # not within the first 3.5 s


def test_the_missing_image_is_one_warning(recorded: dict[str, Any]) -> None:
    warnings = [n["payload"]["details"] for n in recorded["notices"] if n["eventType"] == 2]
    assert [(w["module"], w["warnCode"], w["reason"]) for w in warnings] == [(0, 104, "HTTP 404")]
    assert warnings[0]["imageUrl"].endswith("/missing.jpg")
