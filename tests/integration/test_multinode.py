"""Two Ray nodes on this machine (issue 13: placement, two nodes, node loss).

Tried, as an operator would: a head and a second node started with `ray start` (token auth on,
each node offering one unit of the custom resource `recorder` and one CPU, the customers and
resourceId key in the nodes' environment as a Kubernetes secret would put them), the REST API
as the Ray Serve application with two replicas (`python -m cloudrec.cluster.serve_app`, what a
KubeRay RayService runs) and `cloudrec publish --ray-address HEAD`, as processes of their own;
two mix recordings of one channel through the Serve proxy, a third start
while every recorder slot is taken, then the node running a recorder lost (its raylet
SIGKILLed) mid-recording. Checked: the two recorders ran on different nodes (RecorderLaunched
names the node), the third start answered code 62 within seconds and left nothing in the log,
the session of the lost node went on as generation 2 on the other node, the media gap at the
cut (from the decoded slices) is within R2's 10 s, and every slice written before the loss is
in storage (the two nodes share this machine's disk).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cloudrec.client import ApiCallFailed, RecordingClient
from cloudrec.cluster.head import Head, join_node, start_head
from cloudrec.events.backends import open_event_log
from cloudrec.events.channel import TrackPublished
from cloudrec.events.log import EventLog, every_event
from cloudrec.events.recording import RecorderLaunched, SessionExited
from cloudrec.events.segment import SliceWritten
from cloudrec.server import free_port

from .media import start_recording
from .test_failover import cut_gaps, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

APPID, SECRET, CNAME = "d" * 32, "two-node-secret", "twonodes"
MAX_GAP_S = 10.0  # R2: a lost node


def without_ray_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_MODE", "RAY_ADDRESS")}


@dataclass
class TwoNodes:
    head: Head
    node: Head
    root: Path
    client: RecordingClient
    events: EventLog

    @property
    def storage(self) -> Path:
        return self.root / "recordings"

    def of(self, sid: str, kind: type) -> list[Any]:
        return [e for e in self.events.read_stream(sid) if isinstance(e, kind)]


def _spawn(module: str, args: list[str], cwd: Path, log: Path, env: dict[str, str]
           ) -> subprocess.Popen[bytes]:
    """A process on the head node (its environment is the node's)."""
    env = {**env, "CLOUDREC_CHANNEL_GRACE_S": "15"}
    return subprocess.Popen([sys.executable, "-m", module, *args], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=log.open("wb"))


def node_env() -> dict[str, str]:
    """What every node's environment holds (a Kubernetes secret in production)."""
    return {**without_ray_env(), "CLOUDREC_CUSTOMERS": f"two:{SECRET}:{APPID}",
            "CLOUDREC_RESOURCE_KEY": uuid.uuid4().hex}


@pytest.fixture(scope="module")
def cluster() -> Iterator[TwoNodes]:
    root = Path(f"/tmp/crmn-{uuid.uuid4().hex[:8]}")  # short: Ray's socket paths must fit
    env = node_env()
    head = start_head(root / "head", free_port(), num_cpus=1, resources={"recorder": 1},
                      env=env)
    processes: list[subprocess.Popen[bytes]] = []
    node = None
    try:
        node = join_node(head.address, root / "node", num_cpus=1, resources={"recorder": 1},
                         env=env)
        port, events_url = free_port(), f"sqlite:///{root}/events.db"
        processes.append(_spawn("cloudrec.cluster.serve_app", [
            "--ray-address", head.address, "--http-port", str(port), f"events={events_url}",
            f"storage=file://{root}/recordings", f"workdir={root / 'work'}", "slice_seconds=3",
            "recorder_resource=recorder", "replicas=2"], root, root / "serve.log", env))
        client = RecordingClient(f"http://127.0.0.1:{port}", "two", SECRET, APPID)

        def answers() -> bool:
            assert processes[0].poll() is None, (root / "serve.log").read_text()[-3000:]
            try:
                client.acquire("probe", "1")
                return True
            except Exception:
                return False
        wait_for("the Serve application", answers, 240)
        processes.append(_spawn("cloudrec", [
            "publish", "--ray-address", head.address, "--app", APPID, "--channel", CNAME,
             "--uid", "7", "--synthetic"], root, root / "publish.log", env))
        yield TwoNodes(head, node, root, client, open_event_log(events_url))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        if node is not None:
            node.stop()
        head.stop()


def test_recorders_spread_a_full_cluster_says_62_and_a_lost_node_fails_over(
        cluster: TwoNodes) -> None:
    c = cluster
    head_id, node_id = c.head.node_id(), c.node.node_id()
    wait_for("the publisher's media", lambda: any(
        isinstance(e, TrackPublished) for e in every_event(c.events)), 120)
    sessions = {uid: start_recording(c.client, CNAME, uid, "mix", f"two{uid}")
                for uid in ("101", "102")}
    launched = {uid: wait_for(f"recorder of {uid}",
                              lambda sid=sid: c.of(sid, RecorderLaunched), 90)
                for uid, (_, sid) in sessions.items()}
    where = {uid: events[0].node_id for uid, events in launched.items()}
    assert set(where.values()) == {head_id, node_id}, where  # one recorder on each node

    began = time.monotonic()
    resource = c.client.acquire(CNAME, "103")
    with pytest.raises(ApiCallFailed) as full:
        c.client.start(resource, CNAME, "103", {
            "recordingConfig": {"transcodingConfig": {"width": 640, "height": 360, "fps": 15,
                                                      "bitrate": 800, "mixedVideoLayout": 1}},
            "storageConfig": {"vendor": 1, "region": 0, "bucket": "b", "accessKey": "local",
                              "secretKey": "local", "fileNamePrefix": ["two103"]}})
    assert full.value.status == 400 and full.value.body["code"] == 62
    assert "could not reach recording service" in full.value.body["reason"]
    assert time.monotonic() - began < 10

    on_head = next(uid for uid, node in where.items() if node == head_id)
    lost = next(uid for uid, node in where.items() if node == node_id)
    resource, sid = sessions[on_head]
    c.client.stop(resource, sid, CNAME, on_head)  # frees the head's recorder slot
    resource, sid = sessions[lost]
    wait_for("two slices on the node to lose", lambda: len(c.of(sid, SliceWritten)) >= 2, 90)
    written = [e.key for e in c.of(sid, SliceWritten)]
    c.node.kill_raylet()

    def generation_two() -> list[RecorderLaunched]:
        return [e for e in c.of(sid, RecorderLaunched) if e.generation == 2]
    [second] = wait_for("generation 2", generation_two, 120)
    assert second.node_id == head_id
    wait_for("a slice of generation 2", lambda: any(
        e.generation == 2 for e in c.of(sid, SliceWritten)), 60)
    c.client.stop(resource, sid, CNAME, lost)
    assert c.of(sid, SessionExited)

    gaps = cut_gaps(c.storage, f"two{lost}/{sid}_{CNAME}.m3u8")
    print(f"media gap at the lost node's cut: {[round(g, 3) for g in gaps]} s")  # noqa: T201
    assert len(gaps) == 1 and gaps[0] <= MAX_GAP_S
    assert all((c.storage / key).exists() for key in written)
