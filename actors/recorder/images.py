"""Layout images a recorder paints (spec §5.1, §12.5-12.6), downloaded in the background.

`want(urls)` starts a download for every URL not already held or under way, and forgets the
images of URLs no longer named; `get(url)` is the decoded picture once it is there, else None,
so the render loop never waits: a setting takes effect once its image has been downloaded
(spec §5.1). A failed download (or a body that is not a JPG or BMP) is ignored, as the spec
says, and handed out once by `failures()` for a warning; naming the URL again in a later
layout tries again. Pictures are decoded once per URL to even-sized yuv420p frames; the
compositor scales each one per region and keeps that while it is shown.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

import av

from cloudrec.actors.recorder.download import ImageFetchFailed, download
from cloudrec.actors.recorder.hosts import HostPolicy

log = logging.getLogger(__name__)
IMAGE_CODECS = frozenset({"mjpeg", "bmp"})  # JPG and BMP
MAX_SIDE = 8192  # a larger picture is refused before it is decoded
KEPT_SIDE = 1920  # a picture is kept at most this large on its shorter side

Fetch = Callable[[str], bytes]


class ImageRefused(Exception):
    """The bytes are not a picture cloudrec paints (the message says why)."""


def decode_image(data: bytes) -> av.VideoFrame:
    """A JPG or BMP as an even-sized yuv420p frame."""
    try:
        with av.open(io.BytesIO(data), "r") as container:
            return _first_picture(container)
    except (av.FFmpegError, StopIteration, IndexError) as error:
        raise ImageRefused(f"not a readable JPG or BMP: {error}") from None


def _first_picture(container: av.container.InputContainer) -> av.VideoFrame:
    stream = container.streams.video[0]
    if stream.codec_context.name not in IMAGE_CODECS:
        raise ImageRefused(f"not a JPG or BMP ({stream.codec_context.name})")
    if max(stream.width, stream.height) > MAX_SIDE:
        raise ImageRefused(f"{stream.width}x{stream.height} is larger than {MAX_SIDE} a side")
    frame = next(container.decode(stream))
    width, height = kept_size(frame.width, frame.height)
    return frame.reformat(width=width, height=height, format="yuv420p")


def kept_size(width: int, height: int) -> tuple[int, int]:
    """Even sides, the shorter at most `KEPT_SIDE`: enough for any canvas (at most 1920 a side)
    to crop from, without holding a large picture's every pixel for the whole recording."""
    scale = min(1.0, KEPT_SIDE / min(width, height))
    return (max(2 * int(width * scale / 2), 2), max(2 * int(height * scale / 2), 2))


def fetch_image(url: str, fetch: Fetch) -> av.VideoFrame:
    return decode_image(fetch(url))


class ImageStore:
    """Downloads on a small thread pool; the decoded pictures by URL."""

    def __init__(self, fetch: Fetch, workers: int = 2) -> None:
        self._fetch = fetch
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None  # started with the first download
        self._lock = threading.RLock()  # a done callback may run in `want`'s own thread
        self._pending: dict[str, Future[av.VideoFrame]] = {}
        self._ready: dict[str, av.VideoFrame] = {}
        self._failed: list[tuple[str, str]] = []

    @classmethod
    def from_env(cls) -> ImageStore:
        """The operator's host policy from the environment (`hosts.ALLOW_ENV`)."""
        policy = HostPolicy.from_env()
        return cls(lambda url: download(url, policy))

    def want(self, urls: Iterable[str | None]) -> None:
        """Hold exactly these images: start what is missing, forget what is no longer named."""
        wanted = {url for url in urls if url}
        with self._lock:
            self._ready = {url: image for url, image in self._ready.items() if url in wanted}
            self._pending = {url: job for url, job in self._pending.items() if url in wanted}
            for url in wanted - set(self._ready) - set(self._pending):
                self._start(url)

    def _start(self, url: str) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="layout-image")
        future = self._pending[url] = self._pool.submit(fetch_image, url, self._fetch)
        future.add_done_callback(lambda done: self._settle(url, done))

    def _settle(self, url: str, done: Future[av.VideoFrame]) -> None:
        with self._lock:
            if self._pending.get(url) is not done:
                return  # forgotten meanwhile, or the store was closed
            del self._pending[url]
            error = done.exception()
            if error is None:
                self._ready[url] = done.result()
                return
            reason = str(error) if isinstance(error, ImageFetchFailed | ImageRefused) \
                else f"{type(error).__name__}: {error}"
            log.warning("layout image %s ignored: %s", url, reason)
            self._failed.append((url, reason))

    def get(self, url: str | None) -> av.VideoFrame | None:
        """The decoded picture of `url` once downloaded; None before, after failing, or for None."""
        return self._ready.get(url) if url else None

    def failures(self) -> list[tuple[str, str]]:
        """(url, reason) of every download that failed since the last call."""
        with self._lock:
            failed, self._failed = self._failed, []
        return failed

    def wait(self, timeout_s: float) -> None:
        """Until the downloads under way have settled (for tests and tools)."""
        with self._lock:
            pending = list(self._pending.values())
        for future in pending:
            try:
                future.result(timeout_s)
            except Exception:  # reported by `failures`
                pass

    def close(self) -> None:
        with self._lock:
            self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
