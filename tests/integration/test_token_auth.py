"""`cloudrec serve` and `cloudrec publish` join a Ray cluster that has token authentication on
(Ray 2.60's default for `ray start --head`) with nothing set by hand.

Tried: a head started by `ray start --head` (its own temp directory and port, token written to
~/.ray/auth_token), then `cloudrec serve --ray-address`, and `cloudrec publish` without an
address from the directory serve runs in, with RAY_AUTH_MODE absent from their environment, as
a user runs them. Checked: the server answers, the publisher's tracks and packets reach the
channel (its events are in the log), and a plain `ray.init` without token mode is refused by
that head (so the test cannot pass on a cluster without authentication).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudrec.client import RecordingClient
from cloudrec.cluster.head import Head, start_head
from cloudrec.events.backends import open_event_log
from cloudrec.events.channel import TrackPublished
from cloudrec.events.log import every_event

pytestmark = [pytest.mark.integration, pytest.mark.slow]

APPID = "c" * 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def without_auth_mode() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_MODE", "RAY_ADDRESS")}


@pytest.fixture(scope="module")
def head() -> Iterator[Head]:
    started = start_head(Path(f"/tmp/crtok-{uuid.uuid4().hex[:8]}"), free_port(), num_cpus=2,
                         env=without_auth_mode())
    try:
        yield started
    finally:
        started.stop()


def test_a_driver_without_token_mode_is_refused_by_the_head(head: Head) -> None:
    probe = f"import ray; ray.init(address={head.address!r}); print('joined')"
    done = subprocess.run([sys.executable, "-c", probe], env=without_auth_mode(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "joined" not in done.stdout


def test_serve_and_publish_join_a_cluster_with_token_auth(head: Head, tmp_path: Path) -> None:
    port, secret = free_port(), "token-test-secret"
    events_url = f"sqlite:///{tmp_path}/events.db"
    serve = subprocess.Popen(
        [sys.executable, "-m", "cloudrec", "serve", "--ray-address", head.address,
         "--port", str(port), "--events", events_url,
         "--storage", f"file://{tmp_path}/recordings", "--workdir", str(tmp_path / "work"),
         "--customer", f"tok:{secret}:{APPID}"],
        env=without_auth_mode(), cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "serve.log").open("wb"))
    client = RecordingClient(f"http://127.0.0.1:{port}", "tok", secret, APPID)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                client.acquire("probe", "1")
                break
            except Exception:
                assert time.monotonic() < deadline, "cloudrec serve did not answer"
                time.sleep(1.0)
        # no --ray-address: the cluster of the cloudrec serving from this directory
        done = subprocess.run(
            [sys.executable, "-m", "cloudrec", "publish",
             "--app", APPID, "--channel", "tokroom", "--uid", "77", "--synthetic",
             "--seconds", "2"],
            env=without_auth_mode(), cwd=tmp_path, capture_output=True, text=True,
            timeout=180)
        assert done.returncode == 0, done.stderr[-3000:]
        assert int(done.stdout.split("sent ")[1].split()[0]) > 0, done.stdout
    finally:
        client.close()
        serve.terminate()
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()
    log = open_event_log(events_url)
    try:
        published = [e for e in every_event(log) if isinstance(e, TrackPublished)]
    finally:
        log.close()
    assert {e.kind for e in published} == {"audio", "video"}
