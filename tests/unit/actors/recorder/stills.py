"""Test pictures made here (no binary fixtures): JPG and BMP bytes of solid colours or bands,
and a loopback HTTP server that serves them (or misbehaves) for the downloader's tests."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import av
import numpy as np

CODECS = {"jpg": ("mjpeg", "yuvj420p"), "bmp": ("bmp", "bgr24"), "png": ("png", "rgb24")}


def picture(pixels: np.ndarray, kind: str = "jpg") -> bytes:
    """`pixels` (height x width x RGB) encoded as a JPG, BMP (or PNG) file's bytes."""
    codec, pixel_format = CODECS[kind]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="image2pipe") as container:
        stream = container.add_stream(codec)
        stream.height, stream.width = pixels.shape[:2]
        stream.pix_fmt = pixel_format
        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format=pixel_format)
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return buffer.getvalue()


def solid(rgb: tuple[int, int, int], width: int = 64, height: int = 48,
          kind: str = "jpg") -> bytes:
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[:] = rgb
    return picture(pixels, kind)


def bands(colors: list[tuple[int, int, int]], width: int = 192, height: int = 64,
          kind: str = "bmp") -> bytes:
    """Vertical bands of `colors`, left to right."""
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    for band, rgb in enumerate(colors):
        pixels[:, band * width // len(colors) : (band + 1) * width // len(colors)] = rgb
    return picture(pixels, kind)


Answer = tuple[int, dict[str, str], bytes]  # status, headers, body
Route = Callable[[], Answer]


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, Route] = {}

    def do_GET(self) -> None:
        route = self.routes.get(self.path)
        status, headers, body = route() if route else (404, {}, b"")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (size cap, timeout): what the test wants

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def image_server(routes: dict[str, Route]) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering GET `path` with `routes[path]()`; its base URL."""
    handler = type("Handler", (_Handler,), {"routes": routes})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def serve(body: bytes, content_type: str = "image/jpeg") -> Route:
    return lambda: (200, {"Content-Type": content_type}, body)


def redirect(location: str, status: int = 302) -> Route:
    return lambda: (status, {"Location": location}, b"")


def slow(body: bytes, delay_s: float) -> Route:
    def answer() -> Answer:
        time.sleep(delay_s)
        return 200, {}, body
    return answer
