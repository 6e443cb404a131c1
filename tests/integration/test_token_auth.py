"""`cloudrec serve` and `cloudrec publish` join a Ray cluster that has token authentication on
(Ray 2.60's default for `ray start --head`) with nothing set by hand.

Tried: a head started by `ray start --head` (its own temp directory and port, token written to
~/.ray/auth_token), then `cloudrec serve --ray-address`, and `cloudrec publish` without an
address from the directory serve runs in, with RAY_AUTH_MODE absent from their environment, as
a user runs them. Checked: the server answers, the publisher's tracks and packets reach the
channel (its events are in the log), and a plain `ray.init` without token mode is refused by
that head (so the test cannot pass on a cluster without authentication). Then `ray job submit`
of `python -m cloudrec.cluster.job` on the same head: refused while the first test's controller
(another log) runs, then serving the API and a recording once it is ended.
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

from cloudrec.client import ApiCallFailed, RecordingClient
from cloudrec.cluster.head import Head, start_head
from cloudrec.events.backends import open_event_log
from cloudrec.events.channel import TrackPublished
from cloudrec.events.log import every_event
from cloudrec.events.recording import RecorderLaunched

from .media import start_recording

pytestmark = [pytest.mark.integration, pytest.mark.slow]

APPID = "c" * 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def without_auth_mode() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_MODE", "RAY_ADDRESS")}


@pytest.fixture(scope="module")
def dashboard_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def head(dashboard_port: int) -> Iterator[Head]:
    started = start_head(Path(f"/tmp/crtok-{uuid.uuid4().hex[:8]}"), free_port(), num_cpus=2,
                         env=without_auth_mode(), dashboard_port=dashboard_port)
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


def test_ray_job_submit_runs_the_api_and_a_recording_on_the_cluster(
        head: Head, dashboard_port: int, tmp_path: Path) -> None:
    """`ray job submit ... -- python -m cloudrec.cluster.job ...`, as the README shows: the
    job's driver serves the API on the cluster; a mix recording starts and stops through it
    (its recorder joins, so the controller and actors of the job run on that cluster).

    The cluster still runs the controller of the test before, on another log: the job first
    refuses to drive it (a clear error in the job's logs, not sessions sent to a log nobody
    reads); once that controller is ended, the same job runs."""
    ray_cli = str(Path(sys.executable).parent / "ray")
    env = {**without_auth_mode(), "RAY_AUTH_MODE": "token"}  # the `ray` CLI itself needs it
    address = f"http://127.0.0.1:{dashboard_port}"
    port, secret = free_port(), "job-test-secret"
    events_url = f"sqlite:///{tmp_path}/events.db"

    def submit(*wait: str) -> str:
        deadline = time.monotonic() + 120
        while True:  # a fresh head's job agent takes a while to come up
            job_id = f"cloudrec-{uuid.uuid4().hex[:8]}"
            done = subprocess.run(
                [ray_cli, "job", "submit", "--address", address, "--submission-id", job_id,
                 *wait, "--", sys.executable, "-m", "cloudrec.cluster.job", "--port", str(port),
                 "--events", events_url, "--storage", f"file://{tmp_path}/recordings",
                 "--workdir", str(tmp_path / "work"), "--customer", f"job:{secret}:{APPID}"],
                env=env, capture_output=True, text=True, timeout=300)
            said = done.stdout + done.stderr
            if "No available agent" not in said or time.monotonic() > deadline:
                break
            time.sleep(2.0)
        assert "--no-wait" not in wait or done.returncode == 0, said[-3000:]
        return job_id if wait else said

    refused = submit()  # waits for the job's end
    assert "already runs a cloudrec controller on other settings" in refused, refused[-3000:]
    end = ("import ray; from cloudrec.cluster.connect import connect; "
           f"connect({head.address!r}); "
           "ray.kill(ray.get_actor('cloudrec-controller', namespace='cloudrec'), "
           "no_restart=True)")
    ended = subprocess.run([sys.executable, "-c", end], env=without_auth_mode(),
                           capture_output=True, text=True, timeout=120)
    assert ended.returncode == 0, ended.stderr[-3000:]
    job_id = submit("--no-wait")
    client = RecordingClient(f"http://127.0.0.1:{port}", "job", secret, APPID)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                client.acquire("probe", "1")
                break
            except Exception:
                logs = subprocess.run([ray_cli, "job", "logs", "--address", address, job_id],
                                      env=env, capture_output=True, text=True, timeout=60)
                assert time.monotonic() < deadline, logs.stdout[-3000:]
                time.sleep(2.0)
        resource, sid = start_recording(client, "jobroom", "5", "mix", "job")
        wait = time.monotonic() + 60
        log = open_event_log(events_url)
        try:
            while not any(isinstance(e, RecorderLaunched) for e in log.read_stream(sid)):
                assert time.monotonic() < wait, "the job's recorder did not join"
                time.sleep(0.5)
        finally:
            log.close()
        with pytest.raises(ApiCallFailed) as empty:  # nobody published: §8's 206 / code 435
            client.stop(resource, sid, "jobroom", "5")
        assert (empty.value.status, empty.value.body["code"]) == (206, 435)
    finally:
        client.close()
        subprocess.run([ray_cli, "job", "stop", "--address", address, job_id], env=env,
                       capture_output=True, timeout=120)
