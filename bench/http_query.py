"""bench/api.py --http: `query` over HTTP against the real REST server, in its own process.

The server is `cloudrec.server.serve` (what `cloudrec serve` runs: uvicorn with the same
options and the FastAPI app over `RecordingService`) on a loopback port, over the embedded log
in a temp dir, with `--rate-limit` (the operator's per-app limit, `cloudrec serve
--rate-limit`) raised above the benchmark's rate; the default 10 requests/s would answer 429.
No Ray: `query` answers from the status view and never calls an actor, so the controller is
left out (its recorders would only take CPU from both). The running recordings are sessions
appended to the log as bench/sessions.py does, plus a writer (in this process, as recorders
write from theirs) appending their slices and stream changes.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from sessions import APP, now_ms  # bench/, run as scripts

from cloudrec.api.resource import ResourceCodec
from cloudrec.events.log import EventLog
from cloudrec.events.recording import RecorderLaunched, RecordingStarted

KEY = "bench-resource-key-0123456789abcdef"
CUSTOMER = f"benchcustomer:benchsecret:{APP}"
AUTH = "Basic " + base64.b64encode(b"benchcustomer:benchsecret").decode()


def open_sessions(log: EventLog, count: int) -> list[tuple[str, str]]:
    """`count` recording mix sessions of app APP with real resourceIds: (sid, resourceId)."""
    codec, sessions = ResourceCodec(KEY.encode()), []
    for _ in range(count):
        sid = uuid.uuid4().hex
        resource_id, _ = codec.issue(APP, "bench", "1", scene=0, region=None,
                                     resource_expired_hour=72, now=time.time())
        log.append([RecordingStarted(stream_id=sid, at_ms=now_ms(), appid=APP, cname="bench",
                                     uid="1", resource_id=resource_id, mode="mix", config={},
                                     av_file_types=["hls"], file_prefix=[],
                                     playlist=f"{sid}_bench.m3u8"),
                    RecorderLaunched(stream_id=sid, at_ms=now_ms(), generation=1,
                                     recorder_uid=900001)])
        sessions.append((sid, resource_id))
    return sessions


class Server:
    """The server subprocess, stopped by its pid."""

    def __init__(self, folder: Path, port: int, rate_limit: float, recordings: int,
                 events: str) -> None:
        """`recordings` > 0: with Ray and that many real recordings (bench/http_server.py)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
        env.update(CLOUDREC_RESOURCE_KEY=KEY, RAY_TMPDIR=str(folder / "ray"))
        (folder / "ray").mkdir(exist_ok=True)
        self.port, self.folder = port, folder
        self.log = (folder / "server.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("api.py")), "--serve", str(folder),
             "--port", str(port), "--rate-limit", str(rate_limit),
             "--recordings", str(recordings), "--events", events],
            env=env, cwd=folder, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the server exited")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/openapi.json")
                connection.getresponse().read()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def sessions(self, timeout: float = 300.0) -> list[tuple[str, str]]:
        """The recordings the --ray server started (sessions.json), once all run."""
        deadline, path = time.monotonic() + timeout, self.folder / "sessions.json"
        while not path.exists():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"no recordings started: see {self.folder}/server.log")
            time.sleep(0.5)
        return [(sid, resource) for sid, resource in json.loads(path.read_text())]

    def stop(self) -> None:
        """SIGINT, as Ctrl-C would: `serve` ends and Ray's local cluster with it."""
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def path_of(sid: str, resource_id: str) -> str:
    return f"/v1/apps/{APP}/cloud_recording/resourceid/{resource_id}/sid/{sid}/mode/mix/query"


def drive(port: int, sessions: list[tuple[str, str]], clients: int, rps: float,
          seconds: float) -> list[float]:
    """`clients` threads, one keep-alive connection each, issuing `query` at an even share of
    `rps`; the latency of each call in ms (connection set up before timing)."""
    latencies: list[float] = []
    lock = threading.Lock()
    interval = clients / rps
    start = time.monotonic() + 1.0
    deadline = start + seconds

    def client() -> None:
        mine: list[float] = []
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        next_at = start + random.random() * interval
        while (at := time.monotonic()) < deadline:
            if at < next_at:
                time.sleep(next_at - at)
            sid, resource_id = random.choice(sessions)
            began = time.perf_counter()
            connection.request("GET", path_of(sid, resource_id), headers={"Authorization": AUTH})
            response = connection.getresponse()
            body = response.read()
            mine.append((time.perf_counter() - began) * 1000)
            assert response.status == 200, (response.status, body[:200])
            next_at += interval
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies
