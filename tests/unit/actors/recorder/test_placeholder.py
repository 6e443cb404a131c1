"""The 3.5 s rule (spec §12.6): what a user's region shows once they have had no video for
more than 3.5 s, checked on the rule itself and in a recorder's decoded output."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from cloudrec.actors.layout.geometry import CROP, FIT, PixelRect, to_pixels
from cloudrec.actors.layout.geometry import Region as GeometryRegion
from cloudrec.actors.recorder.config import RecordingConfig
from cloudrec.actors.recorder.download import ImageFetchFailed
from cloudrec.actors.recorder.images import ImageStore
from cloudrec.actors.recorder.placeholder import NO_VIDEO_US, Placeholders
from cloudrec.actors.recorder.recorder import Recorder
from cloudrec.actors.uploader.uploader import UploadJob
from cloudrec.events.layout import Layout, LayoutImageFailed, LayoutRegion, UserBackground
from cloudrec.events.memory import MemoryEventLog

from .live import synthetic_channel
from .stills import solid

T0 = 1_800_000_000_000_000  # µs
BROWN, SLATE, PINK = (150, 75, 0), (40, 90, 160), (250, 170, 200)
IMAGES = {"http://i.example/user2.jpg": solid(BROWN), "http://i.example/canvas.bmp":
          solid(SLATE, kind="bmp"), "http://i.example/default.jpg": solid(PINK)}


def fetch(url: str) -> bytes:
    if url not in IMAGES:
        raise ImageFetchFailed("HTTP 404")
    return IMAGES[url]


def store_with(*urls: str) -> ImageStore:
    store = ImageStore(fetch)
    store.want(urls)
    store.wait(5)
    return store


USER_IMAGE = UserBackground(uid=2, image_url="http://i.example/user2.jpg", render_mode=FIT)
FULL = Layout(background_image="http://i.example/canvas.bmp",
              default_user_background_image="http://i.example/default.jpg",
              background_config=[USER_IMAGE])
FRAME = av.VideoFrame(16, 16, "yuv420p")


def test_video_younger_than_3_5_s_is_shown() -> None:
    rule = Placeholders(store_with(*FULL.image_urls()))
    assert rule.choose(FULL, 2, (FRAME, CROP), T0, T0 + NO_VIDEO_US) == (FRAME, CROP)


def test_priority_user_image_then_default_then_canvas_then_last_frame() -> None:
    later = T0 + NO_VIDEO_US + 1
    store = store_with(*FULL.image_urls())
    rule = Placeholders(store)
    for uid in (2, 3):
        rule.choose(FULL, uid, (FRAME, CROP), T0, T0)  # their regions appear
    assert rule.choose(FULL, 2, (FRAME, CROP), T0, later) == (
        store.get(USER_IMAGE.image_url), FIT)  # with its own render_mode
    assert rule.choose(FULL, 3, (FRAME, CROP), T0, later) == (
        store.get("http://i.example/default.jpg"), CROP)
    canvas_only = Layout(background_image="http://i.example/canvas.bmp")
    assert rule.choose(canvas_only, 2, (FRAME, FIT), T0, later) == (None, FIT)
    assert rule.choose(Layout(), 2, (FRAME, CROP), T0, later) == (FRAME, CROP)


def test_an_image_not_downloaded_counts_as_not_configured() -> None:
    rule = Placeholders(store_with("http://i.example/missing.jpg"))
    layout = Layout(background_config=[UserBackground(uid=2, image_url="http://i.example/"
                                                                        "missing.jpg")])
    rule.choose(layout, 2, (FRAME, CROP), T0, T0)
    assert rule.choose(layout, 2, (FRAME, CROP), T0, T0 + 2 * NO_VIDEO_US) == (FRAME, CROP)


def test_a_user_who_never_sent_video_gets_the_image_3_5_s_after_their_region_appeared() -> None:
    store = store_with(*FULL.image_urls())
    rule = Placeholders(store)
    assert rule.choose(FULL, 4, (None, CROP), None, T0) == (None, CROP)
    assert rule.choose(FULL, 4, (None, CROP), None, T0 + NO_VIDEO_US) == (None, CROP)
    later = rule.choose(FULL, 4, (None, CROP), None, T0 + NO_VIDEO_US + 1)
    assert later == (store.get("http://i.example/default.jpg"), CROP)
    rule.keep([])  # not drawn for a while: the count starts again
    assert rule.choose(FULL, 4, (None, CROP), None, T0 + 9 * NO_VIDEO_US) == (None, CROP)


# -- in a recording --------------------------------------------------------------------------

HALVES = [LayoutRegion(uid=1, x_axis=0.0, y_axis=0.0, width=1.0, height=0.4),
          LayoutRegion(uid=2, x_axis=0.0, y_axis=0.5, width=1.0, height=0.5)]


def record_muting_user_2(tmp_path: Path, layout: Layout, store: ImageStore,
                         seconds: float = 6.0) -> tuple[list[np.ndarray], MemoryEventLog]:
    """Users 1 (red) and 2 (green); user 2 sends no more video after 1 s (muted)."""
    clock, channel, sources = synthetic_channel(2, T0)
    jobs: list[UploadJob] = []
    events = MemoryEventLog()
    config = RecordingConfig(sid="s" * 32, appid="app", cname="room", recorder_uid=99,
                             generation=1, workdir=tmp_path, layout=layout,
                             av_file_types=("hls", "mp4"))
    recorder = Recorder(config, events, jobs.append, t0_us=T0, images=store)
    store.wait(5)  # the recorder asked for its layout's images: in before the first picture
    for step in range(1, int(seconds * 10) + 1):
        clock["now"] = T0 + step * 100_000
        for source in sources:
            packets = source.packets_until(step / 10)
            muted = source.uid == 2 and step > 10
            channel.push([p for p in packets if not (muted and p.kind == "video")])
        recorder.receive(channel.pull("rec"))
        recorder.render(clock["now"])
    recorder.finish(clock["now"])
    mp4 = next(job.path for job in jobs if job.kind == "mp4")
    with av.open(str(mp4)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)], events


def colour(image: np.ndarray, rect: PixelRect) -> np.ndarray:
    cx, cy = rect.x + rect.width // 2, rect.y + rect.height // 2
    return np.median(image[cy - 8 : cy + 8, cx - 8 : cx + 8].reshape(-1, 3), axis=0)


def near(got: np.ndarray, rgb: tuple[int, int, int]) -> bool:
    return bool(np.abs(got - np.array(rgb)).max() <= 24)


def rect_of(entry: LayoutRegion) -> PixelRect:
    region = GeometryRegion(entry.uid or 0, entry.x_axis, entry.y_axis, entry.width,
                            entry.height, entry.render_mode)
    return to_pixels(region, 360, 640)


def test_a_muted_user_shows_the_last_frame_then_their_image(tmp_path: Path) -> None:
    layout = FULL.model_copy(update={"mixed_video_layout": 3, "layout_config": HALVES})
    frames, _ = record_muting_user_2(tmp_path, layout, store_with(*layout.image_urls()))
    top, bottom = rect_of(HALVES[0]), rect_of(HALVES[1])
    strip = PixelRect(0, 270, 360, 50)  # between the regions: the canvas image
    at = lambda seconds: frames[int(seconds * 15)]  # noqa: E731 (15 fps)
    assert near(colour(at(3.0), bottom), (0, 255, 0))  # the last frame, within 3.5 s
    assert near(colour(at(5.5), bottom), BROWN)  # then user 2's own image
    assert near(colour(at(5.5), top), (255, 0, 0))
    assert near(colour(at(1.0), strip), SLATE) and near(colour(at(5.5), strip), SLATE)


def test_without_images_the_muted_user_keeps_the_last_frame(tmp_path: Path) -> None:
    layout = Layout(mixed_video_layout=3, layout_config=HALVES, background_color="#0000FF")
    frames, _ = record_muting_user_2(tmp_path, layout, ImageStore(fetch))
    assert near(colour(frames[int(5.5 * 15)], rect_of(HALVES[1])), (0, 255, 0))
    assert near(colour(frames[int(5.5 * 15)], PixelRect(0, 270, 360, 50)), (0, 0, 255))


def test_a_failed_image_is_ignored_and_reported(tmp_path: Path) -> None:
    layout = Layout(mixed_video_layout=3, layout_config=HALVES, background_color="#0000FF",
                    background_image="http://i.example/missing.jpg")
    frames, events = record_muting_user_2(tmp_path, layout, ImageStore(fetch), seconds=2.0)
    assert near(colour(frames[-1], PixelRect(0, 270, 360, 50)), (0, 0, 255))
    failed = [e for e in events.read_stream("s" * 32) if isinstance(e, LayoutImageFailed)]
    assert [(e.url, e.reason) for e in failed] == [("http://i.example/missing.jpg", "HTTP 404")]


def test_the_same_layout_pushed_again_does_not_fetch_a_failed_image_again(
        tmp_path: Path) -> None:
    calls: list[str] = []
    store = ImageStore(lambda url: calls.append(url) or fetch(url))
    layout = Layout(background_image="http://i.example/missing.jpg")
    config = RecordingConfig(sid="s" * 32, appid="app", cname="room", recorder_uid=99,
                             generation=1, workdir=tmp_path, layout=layout)
    recorder = Recorder(config, MemoryEventLog(), lambda job: None, t0_us=T0, images=store)
    store.wait(5)
    recorder.set_layout(layout)  # the supervisor pushes the layout in force after a launch
    store.wait(5)
    assert calls == ["http://i.example/missing.jpg"]
    recorder.set_layout(layout.model_copy(update={"background_color": "#FFFFFF"}))
    store.wait(5)
    assert len(calls) == 2  # a changed layout naming it tries again
    recorder.output.close()
