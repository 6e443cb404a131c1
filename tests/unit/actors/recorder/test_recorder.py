"""The recorder core without Ray: synthetic users → Channel → Recorder → decoded output.

A simulated clock drives the channel and the output clock in 100 ms steps, as the actor's
loop does in real time. What is checked is what a viewer sees in the produced MP4.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from cloudrec.actors.channel.channel import Channel
from cloudrec.actors.channel.synthetic import publisher_colors
from cloudrec.actors.layout.geometry import PixelRect, regions, to_pixels
from cloudrec.actors.recorder.config import RecordingConfig, Subscription
from cloudrec.actors.recorder.recorder import Recorder
from cloudrec.actors.uploader.uploader import UploadJob
from cloudrec.events.layout import Layout, LayoutRegion
from cloudrec.events.memory import MemoryEventLog

from .live import synthetic_channel

T0 = 1_800_000_000_000_000  # µs


def record(tmp_path: Path, users: int, layout: Layout, seconds: float = 2.0,
           video: Subscription | None = None,
           at_second: Callable[[Channel], None] | None = None,
           ) -> tuple[np.ndarray, list[UploadJob], Recorder]:
    clock, channel, sources = synthetic_channel(users, T0)
    jobs: list[UploadJob] = []
    config = RecordingConfig(sid="s" * 32, appid="app", cname="room", recorder_uid=99,
                             generation=1, workdir=tmp_path, layout=layout,
                             av_file_types=("hls", "mp4"), video=video or Subscription())
    recorder = Recorder(config, MemoryEventLog(), jobs.append, t0_us=T0)
    for step in range(1, int(seconds * 10) + 1):
        clock["now"] = T0 + step * 100_000
        if step == 10 and at_second:
            at_second(channel)
        for source in sources:
            channel.push(source.packets_until(step / 10))
        recorder.receive(channel.pull("rec"))
        recorder.render(clock["now"])
    recorder.finish(clock["now"])
    mp4 = next(job.path for job in jobs if job.kind == "mp4")
    with av.open(str(mp4)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return frames[len(frames) * 3 // 4], jobs, recorder


def median(image: np.ndarray, rect: PixelRect, fraction: float = 0.3) -> np.ndarray:
    cx, cy = rect.x + rect.width // 2, rect.y + rect.height // 2
    hw, hh = max(1, int(rect.width * fraction / 2)), max(1, int(rect.height * fraction / 2))
    return np.median(image[cy - hh : cy + hh, cx - hw : cx + hw].reshape(-1, 3), axis=0)


def nearest_user(colour: np.ndarray, users: int) -> int:
    looks = np.array([c for c, _ in publisher_colors(users)], dtype=float)
    return int(np.argmin(np.abs(looks - colour).sum(axis=1))) + 1


@pytest.mark.parametrize("layout", [0, 1, 2])
def test_seventeen_users_each_in_their_own_region(tmp_path: Path, layout: int) -> None:
    image, _, _ = record(tmp_path, 17, Layout(mixed_video_layout=layout, max_resolution_uid=5))
    drawn = regions(layout, list(range(1, 18)), 5)
    assert len(drawn) == 17
    for region in drawn[1:] if layout == 0 else drawn:  # float: #1 is under the tiles
        fraction = 0.1 if region.render_mode == 1 else 0.3
        colour = median(image, to_pixels(region, 360, 640), fraction)
        assert nearest_user(colour, 17) == region.uid, (layout, region)


def test_custom_layout_background_and_fit(tmp_path: Path) -> None:
    layout = Layout(mixed_video_layout=3, background_color="#3366CC", layout_config=[
        LayoutRegion(uid=3, x_axis=0.0, y_axis=0.0, width=1.0, height=0.5, render_mode=1),
        LayoutRegion(x_axis=0.5, y_axis=0.5, width=0.5, height=0.25),
    ])
    image, _, _ = record(tmp_path, 3, layout)
    top = PixelRect(0, 0, 360, 320)
    assert nearest_user(median(image, top, 0.1), 3) == 3  # bound by uid, fit
    assert np.abs(image[5, 180].astype(int) - [0, 0, 0]).max() < 30  # fit: black bar above
    filler = PixelRect(180, 320, 180, 160)
    assert nearest_user(median(image, filler), 3) == 1  # first unbound user in join order
    background = image[600, 90].astype(int)  # nothing drawn there
    assert np.abs(background - [0x33, 0x66, 0xCC]).max() < 24


def test_unsubscribed_video_gets_no_region(tmp_path: Path) -> None:
    image, _, _ = record(tmp_path, 2, Layout(mixed_video_layout=1),
                         video=Subscription(never=frozenset({2})))
    whole = PixelRect(0, 0, 360, 640)
    assert nearest_user(median(image, whole), 2) == 1  # user 1 alone fills the canvas


def test_files_are_recorded_then_handed_over(tmp_path: Path) -> None:
    _, jobs, recorder = record(tmp_path, 1, Layout(), seconds=1.0)
    kinds = [job.kind for job in jobs]
    assert kinds.count("mp4") == 1 and kinds.count("slice") == 1 and "playlist" in kinds
    written = [type(e).__name__ for e in recorder.events.read_stream("s" * 32)]
    assert written[:3] == ["StreamStateChanged", "StreamStateChanged", "SliceStarted"]
    assert {"SliceWritten", "PlaylistWritten", "Mp4Written"} <= set(written)


def test_unpublished_video_keeps_the_last_picture_a_leave_frees_the_region(
        tmp_path: Path) -> None:
    def changes(channel: Channel) -> None:
        channel.unpublish(2, "video")  # user 2 stops video but stays (audio on)
        channel.leave(3)  # user 3 leaves: the others move up

    image, _, _ = record(tmp_path, 3, Layout(mixed_video_layout=1), at_second=changes)
    cells = regions(1, [1, 2], None)
    assert [nearest_user(median(image, to_pixels(c, 360, 640)), 3) for c in cells] == [1, 2]
