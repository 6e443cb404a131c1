"""End to end, through HTTP: `videoStreamType` picks the high or the low stream of dual-stream
senders (issue 12, spec §5.1), in individual and in mix mode.

User 7101 sends its 640x360 video twice (`DualStream`: also 320x180); user 7102 sends one
320x180 stream. Three recordings of the channel run at once: individual with `videoStreamType`
0 and 1, mix with 1. What is checked: individual 0 records 7101 at 640x360, individual 1 at
320x180, and 7102 at its one size in both (a sender with no low stream is recorded from its high
one); the mix of the low streams decodes with each user's colour in their region.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from cloudrec.actors.channel.dual_stream import DualStream
from cloudrec.actors.channel.handle import ChannelHandle
from cloudrec.actors.channel.synthetic import SyntheticPublisher, publisher_colors
from cloudrec.actors.layout.geometry import regions, to_pixels
from cloudrec.client import RecordingClient
from cloudrec.runtime import Runtime

from .media import Feeds, colour_at, decode, start_recording

pytestmark = [pytest.mark.integration, pytest.mark.slow,
              pytest.mark.parametrize("runtime", ["embedded"], indirect=True)]

DUAL, SINGLE = 7101, 7102
LOOKS = dict(zip((DUAL, SINGLE), publisher_colors(2), strict=True))
RECORD_S, BEST_FIT = 6.0, 1
SIZES = {0: {DUAL: (640, 360), SINGLE: (320, 180)},  # videoStreamType -> uid -> recorded size
         1: {DUAL: (320, 180), SINGLE: (320, 180)}}


@pytest.fixture(scope="module")
def recorded(runtime: Runtime, server: Any,
             customers: dict[str, tuple[str, str]]) -> dict[str, Path]:
    secret, appid = customers["alice"]
    client = RecordingClient(server.url, "alice", secret, appid)
    cname, tag = f"dual{int(time.time())}", f"{time.time_ns()}"
    feeds = Feeds(ChannelHandle(runtime.get_channel(appid, cname)))
    feeds.add(DUAL, DualStream(SyntheticPublisher(DUAL, *LOOKS[DUAL], width=640, height=360)))
    feeds.add(SINGLE, SyntheticPublisher(SINGLE, *LOOKS[SINGLE]))
    started = {
        "individual-0": start_recording(client, cname, "900061", "individual", f"i0{tag}"),
        "individual-1": start_recording(client, cname, "900062", "individual", f"i1{tag}",
                                        video_stream_type=1),
        "mix-1": start_recording(client, cname, "900063", "mix", f"m1{tag}", layout=BEST_FIT,
                                 video_stream_type=1),
    }
    time.sleep(RECORD_S)
    for (name, (resource, sid)), uid in zip(started.items(), ("900061", "900062", "900063"),
                                            strict=True):
        client.stop(resource, sid, cname, uid, mode=name.split("-")[0])
    feeds.close()
    client.close()
    root = Path(runtime.settings.storage_url.removeprefix("file://"))
    return {"individual-0": root / f"i0{tag}", "individual-1": root / f"i1{tag}",
            "mix-1": root / f"m1{tag}"}


def picture_sizes(folder: Path, uid: int) -> set[tuple[int, int]]:
    """Every decoded picture's size in `uid`'s video slices."""
    sizes = set()
    for path in sorted(folder.rglob(f"*__uid_s_{uid}__uid_e_video_*.ts")):
        with av.open(str(path)) as container:
            sizes |= {(f.width, f.height) for f in container.decode(video=0)}
    return sizes


@pytest.mark.parametrize("stream_type", [0, 1])
def test_individual_mode_records_the_chosen_stream(recorded: dict[str, Path],
                                                   stream_type: int) -> None:
    folder = recorded[f"individual-{stream_type}"]
    got = {uid: picture_sizes(folder, uid) for uid in (DUAL, SINGLE)}
    assert got == {uid: {size} for uid, size in SIZES[stream_type].items()}


def test_the_mix_of_low_streams_shows_each_users_colour(recorded: dict[str, Path]) -> None:
    mp4 = decode(next(recorded["mix-1"].rglob("*.mp4")))
    assert mp4.video_seconds > RECORD_S - 2
    image = mp4.frame_at(mp4.video_seconds / 2)
    for region in regions(BEST_FIT, [DUAL, SINGLE], None):
        got = colour_at(image, to_pixels(region, 640, 360))
        assert np.abs(got - np.array(LOOKS[region.uid][0])).max() < 48, (region.uid, got)
