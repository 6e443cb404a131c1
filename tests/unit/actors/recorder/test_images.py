"""Layout images: decoded once per URL from JPG or BMP, fetched off the render loop, a failure
ignored and handed out once for a warning."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from cloudrec.actors.recorder.download import ImageFetchFailed
from cloudrec.actors.recorder.images import ImageRefused, ImageStore, decode_image, kept_size

from .stills import solid

ORANGE = (240, 120, 20)


@pytest.mark.parametrize("kind", ["jpg", "bmp"])
def test_jpg_and_bmp_decode_to_even_yuv420p_of_their_colour(kind: str) -> None:
    frame = decode_image(solid(ORANGE, 63, 41, kind))
    assert (frame.width, frame.height, frame.format.name) == (62, 40, "yuv420p")
    rgb = frame.to_ndarray(format="rgb24")[20, 31].astype(int)
    assert np.abs(rgb - ORANGE).max() <= 8


def test_other_pictures_and_garbage_are_refused() -> None:
    with pytest.raises(ImageRefused, match="not a JPG or BMP"):
        decode_image(solid(ORANGE, kind="png"))
    with pytest.raises(ImageRefused):
        decode_image(b"<html>not an image</html>")


def test_the_store_paints_nothing_until_the_download_is_in() -> None:
    gate = threading.Event()

    def fetch(url: str) -> bytes:
        gate.wait(5)
        return solid(ORANGE)

    store = ImageStore(fetch)
    store.want(["http://images.example/a.jpg", None])
    assert store.get("http://images.example/a.jpg") is None  # never waits for it
    gate.set()
    store.wait(5)
    assert store.get("http://images.example/a.jpg") is not None
    assert store.get(None) is None and store.failures() == []
    store.close()


def test_a_failed_download_is_reported_once_and_retried_when_named_again() -> None:
    calls: list[str] = []

    def fetch(url: str) -> bytes:
        calls.append(url)
        if len(calls) == 1:
            raise ImageFetchFailed("HTTP 404")
        return solid(ORANGE, kind="bmp")

    store = ImageStore(fetch)
    store.want(["http://images.example/b.bmp"])
    store.wait(5)
    assert store.failures() == [("http://images.example/b.bmp", "HTTP 404")]
    assert store.failures() == [] and store.get("http://images.example/b.bmp") is None
    store.want(["http://images.example/b.bmp"])  # a later layout names it again
    store.wait(5)
    assert store.get("http://images.example/b.bmp") is not None and len(calls) == 2


def test_a_body_that_is_not_an_image_is_reported_too() -> None:
    store = ImageStore(lambda url: b"GIF89a")
    store.want(["http://images.example/c.gif"])
    store.wait(5)
    [(url, reason)] = store.failures()
    assert url == "http://images.example/c.gif" and "JPG or BMP" in reason


def test_images_no_longer_named_are_forgotten_and_held_ones_not_fetched_again() -> None:
    calls: list[str] = []
    store = ImageStore(lambda url: calls.append(url) or solid(ORANGE))
    store.want(["http://i.example/1.jpg", "http://i.example/2.jpg"])
    store.wait(5)
    store.want(["http://i.example/2.jpg"])
    store.wait(5)
    assert store.get("http://i.example/1.jpg") is None
    assert store.get("http://i.example/2.jpg") is not None
    assert sorted(calls) == ["http://i.example/1.jpg", "http://i.example/2.jpg"]


def test_a_large_picture_is_kept_no_larger_than_a_canvas_needs() -> None:
    assert kept_size(4000, 3000) == (2560, 1920)
    assert kept_size(1281, 721) == (1280, 720)
    assert kept_size(9000, 1) == (9000, 2)
    frame = decode_image(solid(ORANGE, 3840, 2160))
    assert (frame.width, frame.height) == (3412, 1920)
