"""Playlists of a channel named with URI-unsafe characters play over HTTP.

What is tried: one user publishes on a channel whose name holds `%`, `?`, `#`, a space and every
other punctuation mark the spec allows; a mix (HLS) and an individual recording of it run side by
side (two recorder uids) for ~14 s; the storage folder is then served by a plain HTTP server.
What is checked: `ffprobe` opens each playlist at its percent-encoded URL, fetches every slice
the playlist lists (the server answered each with 200) and reads packets from them, and the
duration it reports is the playlist's and about the recorded length.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from cloudrec.actors.channel.handle import ChannelHandle
from cloudrec.actors.channel.publisher import Publisher
from cloudrec.actors.channel.synthetic import SyntheticPublisher
from cloudrec.actors.recorder.naming import playlist_name, track_playlist_name
from cloudrec.actors.recorder.playlist import Playlist
from cloudrec.client import RecordingClient
from cloudrec.runtime import Runtime

from ..unit.api.names import PUNCTUATION

pytestmark = [pytest.mark.integration, pytest.mark.slow,
              pytest.mark.parametrize("runtime", ["embedded"], indirect=True)]

UID = 5101
SECONDS = 13.0  # more than two 6 s slices
FPS = 15  # the publisher's and the mix's default
STORAGE = {"vendor": 1, "region": 0, "bucket": "b", "accessKey": "local", "secretKey": "local"}


@dataclass
class Recording:
    """One recording of the channel, and when (monotonic) its start and stop were asked and
    answered: it lasts at most from start asked to stop answered, at least from start answered
    to stop asked."""

    mode: str
    uid: str  # the recorder's
    resource: str = ""
    sid: str = ""
    times: list[float] = field(default_factory=list)

    def start(self, client: RecordingClient, cname: str, storage: dict[str, Any]) -> None:
        group = {"subscribeUidGroup": 0} if self.mode == "individual" else {}
        self.times.append(time.monotonic())
        self.resource = client.acquire(cname, self.uid)
        self.sid = client.start(self.resource, cname, self.uid, {
            "recordingConfig": {"streamTypes": 2, **group}, "storageConfig": storage},
            mode=self.mode)
        self.times.append(time.monotonic())

    def stop(self, client: RecordingClient, cname: str) -> None:
        self.times.append(time.monotonic())
        client.stop(self.resource, self.sid, cname, self.uid, mode=self.mode)
        self.times.append(time.monotonic())

    def lasted(self) -> tuple[float, float]:
        start_asked, started, stop_asked, stopped = self.times
        return stop_asked - started, stopped - start_asked


@dataclass(frozen=True)
class Recorded:
    root: Path  # the storage folder
    playlists: dict[str, tuple[str, Recording]]  # "mix", "audio", "video": object key, recording


class Requests(SimpleHTTPRequestHandler):
    """Serves a folder; remembers (path, status) of every request instead of printing it."""

    seen: list[tuple[str, int]]

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.seen.append((self.path, int(code)))


@pytest.fixture(scope="module")
def ffprobe() -> str:
    found = shutil.which("ffprobe")
    if found is None:
        pytest.fail("ffprobe is missing: `make test` installs Debian's ffmpeg")
    return found


@pytest.fixture(scope="module")
def recorded(runtime: Runtime, server: Any, customers: dict[str, tuple[str, str]]) -> Recorded:
    secret, appid = customers["alice"]
    client = RecordingClient(server.url, "alice", secret, appid)
    cname, prefix = f"h{PUNCTUATION}{time.time_ns() % 10**12}", f"hls{time.time_ns()}"
    mix, individual = Recording("mix", "900041"), Recording("individual", "900042")
    with _publishing(runtime, appid, cname):
        for recording in (mix, individual):
            recording.start(client, cname, {**STORAGE, "fileNamePrefix": [prefix]})
        time.sleep(SECONDS)
        for recording in (mix, individual):
            recording.stop(client, cname)
    client.close()
    tracks = {kind: (track_playlist_name([prefix], individual.sid, cname, UID, kind), individual)
              for kind in ("audio", "video")}
    return Recorded(Path(runtime.settings.storage_url.removeprefix("file://")),
                    {"mix": (playlist_name([prefix], mix.sid, cname), mix), **tracks})


@contextmanager
def _publishing(runtime: Runtime, appid: str, cname: str) -> Iterator[None]:
    """User UID publishes on the channel (from its first packet on) until the block ends."""
    feed = Publisher(ChannelHandle(runtime.get_channel(appid, cname)), UID,
                     SyntheticPublisher(UID, (200, 40, 40), 440.0, fps=FPS))
    stop = threading.Event()
    publisher = threading.Thread(target=feed.run, args=(stop,), daemon=True)
    publisher.start()
    deadline = time.monotonic() + 60
    while not feed.sent and time.monotonic() < deadline:  # a new channel may take seconds
        time.sleep(0.1)
    try:
        yield
    finally:
        stop.set()
        publisher.join(10)


@pytest.fixture(scope="module")
def served(recorded: Recorded) -> Iterator[tuple[str, list[tuple[str, int]]]]:
    """The storage folder over HTTP on loopback: the base URL and the requests it answered."""
    seen: list[tuple[str, int]] = []
    handler = type("Logged", (Requests,), {"seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0),
                                functools.partial(handler, directory=str(recorded.root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def _probe(ffprobe: str, url: str) -> dict[str, Any]:
    done = subprocess.run(
        [ffprobe, "-v", "error", "-count_packets", "-show_entries",
         "format=duration:stream=codec_type,nb_read_packets", "-of", "json", url],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


@pytest.mark.parametrize("which", ["mix", "audio", "video"])
def test_the_playlist_plays_over_http_with_every_slice(
        recorded: Recorded, served: tuple[str, list[tuple[str, int]]], ffprobe: str,
        which: str) -> None:
    key, recording = recorded.playlists[which]
    base, seen = served
    listed = Playlist.parse((recorded.root / key).read_text())
    assert len(listed.segments) >= 2 and listed.ended
    seen.clear()
    answer = _probe(ffprobe, f"{base}/{quote(key)}")
    folder = key.rpartition("/")[0]
    fetched = {path for path, status in seen if status == 200}
    assert {f"/{folder}/{segment.uri}" for segment in listed.segments} <= fetched, seen
    duration = float(answer["format"]["duration"])
    packets = {s["codec_type"]: int(s["nb_read_packets"]) for s in answer["streams"]}
    assert packets and all(packets.values()), answer
    assert packets.get("video", FPS * duration) > 0.8 * FPS * duration  # every slice's frames
    assert duration == pytest.approx(listed.duration, abs=0.5)
    shortest, longest = recording.lasted()
    assert shortest - 1.5 < duration < longest + 0.5
