"""`cloudrec publish` joining the running cluster, and the real service refusing bad calls."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import ray

from cloudrec.client import ApiCallFailed
from cloudrec.events.channel import channel_id
from cloudrec.runtime import Runtime

pytestmark = pytest.mark.integration


def write_clip(path: Path, seconds: float = 2.0) -> None:
    """A small H.264 + AAC MP4, as a user might publish from a file."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=15)
        video.width, video.height, video.pix_fmt = 160, 96, "yuv420p"
        audio = container.add_stream("aac", rate=48_000)
        audio.layout = "mono"
        for i in range(int(seconds * 15)):
            image = np.full((96, 160, 3), (40, 200, 90), np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 15)
            container.mux(video.encode(frame))
        for i in range(int(seconds * 48_000 / 1024)):
            t = np.arange(i * 1024, (i + 1) * 1024) / 48_000
            samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48_000, i * 1024
            container.mux(audio.encode(frame))
        container.mux(video.encode(None))
        container.mux(audio.encode(None))


def publish(args: list[str]) -> subprocess.CompletedProcess[str]:
    address = ray.get_runtime_context().gcs_address
    command = [sys.executable, "-m", "cloudrec", "publish", "--ray-address", address, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "RAY_ADDRESS": address})


@pytest.mark.parametrize("source", ["--synthetic", "file"])
def test_publish_joins_the_running_cloudrec(runtime: Runtime, tmp_path: Path,
                                            source: str) -> None:
    if source == "file":
        write_clip(tmp_path / "clip.mp4")
        source = str(tmp_path / "clip.mp4")
    cname = f"pub{int(time.time() * 1000)}"
    done = publish(["--app", "cliapp", "--channel", cname, "--uid", "77", "--seconds", "2",
                    source])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "sent" in done.stdout
    events = runtime.events.read_stream(channel_id("cliapp", cname))
    types = [(type(e).__name__, getattr(e, "kind", None)) for e in events]
    assert types[0] == ("UserJoined", None) and types[-1] == ("UserLeft", None)
    published = {getattr(e, "kind", None): getattr(e, "codec", None) for e in events
                 if type(e).__name__ == "TrackPublished"}
    expected = {"video": "h264", "audio": "opus"} if source == "--synthetic" else {
        "video": "h264", "audio": "aac"}
    assert published == expected


def test_publish_needs_a_source() -> None:
    done = subprocess.run([sys.executable, "-m", "cloudrec", "publish", "--app", "a",
                           "--channel", "c", "--uid", "1"], capture_output=True, text=True)
    assert done.returncode == 2 and "required" in done.stderr


START = {"recordingConfig": {"maxIdleTime": 30}}


def _start(client: Any, cname: str) -> tuple[str, str]:
    resource = client.acquire(cname, "42")
    return resource, client.start(resource, cname, "42", START)


def test_real_service_refuses_reuse_foreign_and_unknown(client_for: Any,
                                                        runtime: Runtime) -> None:
    alice, bob = client_for("alice"), client_for("bob")
    resource, sid = _start(alice, "refusals")
    try:
        with pytest.raises(ApiCallFailed) as reused:  # the same resourceId twice → code 7
            alice.start(resource, "refusals", "42", START)
        assert reused.value.status == 201 and reused.value.body["code"] == 7
        assert reused.value.body["sid"] == sid
        with pytest.raises(ApiCallFailed) as foreign:  # bob's credentials on alice's app
            client_for("bob", alice.appid).query(resource, sid)
        assert foreign.value.status == 400 and foreign.value.body == {"message": "invalid appid"}
        with pytest.raises(ApiCallFailed) as elsewhere:  # alice's sid under bob's app
            bob.query(resource, sid)
        assert elsewhere.value.body["code"] == 1003
        with pytest.raises(ApiCallFailed) as unknown:
            alice.query(resource, "0" * 32)
        assert unknown.value.status == 404 and unknown.value.body["code"] == 404
        with pytest.raises(ApiCallFailed) as twice:  # a second recorder for the same uid
            alice.start(alice.acquire("refusals", "42"), "refusals", "42", START)
        assert twice.value.body["code"] == 53
    finally:
        with pytest.raises(ApiCallFailed) as empty:  # nobody published in "refusals"
            alice.stop(resource, sid, "refusals", "42")
    assert empty.value.status == 206 and empty.value.body["code"] == 435  # §9, §10
    with pytest.raises(ApiCallFailed) as ended:  # after stop the session is gone
        alice.query(resource, sid)
    assert ended.value.status == 404
    # the final upload progress (33) may follow the exit (spec §13.5)
    kinds = [n["eventType"] for n in _notes(runtime, sid) if n["eventType"] != 33]
    assert 3 in kinds  # cloud_recording_status_update for the repeated start
    assert kinds[-1] == 11


def _notes(runtime: Runtime, sid: str) -> list[dict[str, Any]]:
    from cloudrec.projections.callbacks import notifications

    return notifications(runtime.events.read_stream(sid), sid)


def test_wrong_credentials_and_malformed_json(server: Any, customers: Any) -> None:
    import httpx

    base = f"{server.url}/v1/apps/{customers['alice'][1]}/cloud_recording/acquire"
    denied = httpx.post(base, auth=("alice", "wrong"), json={})
    assert denied.status_code == 401
    assert denied.json() == {"message": "Invalid authentication credentials"}
    broken = httpx.post(base, auth=("alice", customers["alice"][0]), content=b"{not json",
                        headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["code"] == 8
    missing = httpx.post(base, auth=("alice", customers["alice"][0]), json={"cname": "x"})
    assert missing.status_code == 400 and missing.json()["code"] == 2
