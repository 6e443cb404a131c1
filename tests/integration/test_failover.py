"""Recorder failover, fencing and restarts, end to end on a real local Ray cluster (both logs).

Tried: a recorder process SIGKILLed three times in one recording and then a fourth time; a
recorder paused with SIGSTOP until its successor records, then resumed (a zombie); the
controller actor's process SIGKILLed; `cloudrec serve` SIGKILLed and started again. Checked
from the decoded files and the log: the media gap at each cut, the playlist under the original
name decoding end to end with a discontinuity at each cut, every slice finished before a kill
in storage, the callbacks in order, nothing from the zombie in the log or in storage, and a
fresh replay of the log giving the `query` answer the service gives.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import ray
from ray.exceptions import RayError

from cloudrec import scenario
from cloudrec.actors.channel.synthetic import publisher_colors
from cloudrec.actors.layout.geometry import regions, to_pixels
from cloudrec.client import ApiCallFailed, RecordingClient
from cloudrec.cluster.options import CONTROLLER, NAMESPACE
from cloudrec.events.recording import RecorderFailed, RecorderLaunched, SessionExited
from cloudrec.events.segment import FileDropped, FileSalvaged, SliceWritten
from cloudrec.events.upload import FileUploaded
from cloudrec.projections import callbacks, status
from cloudrec.runtime import Runtime
from cloudrec.server import free_port

from .media import colour_at

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MAX_GAP_S = 3.0  # R1


def controller() -> Any:
    return ray.get_actor(CONTROLLER, namespace=NAMESPACE)


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Recording:
    """A mix recording (HLS + MP4) of two synthetic users, driven through the REST API."""

    def __init__(self, runtime: Runtime, client: RecordingClient, cname: str) -> None:
        self.runtime, self.client = runtime, client
        self.plan = scenario.Scenario(client.appid, cname=cname, users=(1001, 1002),
                                      late_user=0, early_user=0, prefix=("fo",))
        self.live = scenario.LiveChannel(runtime, self.plan)
        for uid in self.plan.users:
            self.live.join(uid)
        self.live.wait_present(list(self.plan.users))
        self.resource = client.acquire(cname, self.plan.recorder_uid)
        self.sid = client.start(self.resource, cname, self.plan.recorder_uid,
                                self.plan.start_request())

    def events(self) -> list[Any]:
        return self.runtime.events.read_stream(self.sid)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events() if isinstance(e, kind)]

    def recorder(self, generation: int) -> int:
        """The pid of the recorder of `generation`, once it records."""
        def running() -> int:
            try:
                info = ray.get(controller().describe.remote(self.sid))
            except RayError:  # the controller is restarting
                return 0
            return info["pid"] if info["generation"] == generation else 0
        return int(wait_for(f"generation {generation}", running))

    def slice_of(self, generation: int) -> None:
        wait_for(f"a slice of generation {generation}", lambda: any(
            e.generation == generation for e in self.of(SliceWritten)), 40)

    def stop(self) -> dict[str, Any]:
        answer = self.client.stop(self.resource, self.sid, self.plan.cname,
                                  self.plan.recorder_uid)
        return answer

    def close(self) -> None:
        self.live.close()


@pytest.fixture
def recording(runtime: Runtime, client_for: Any, request: pytest.FixtureRequest
              ) -> Iterator[Recording]:
    cname = f"fo{request.node.name.split('[')[0][-12:]}{int(time.time()) % 10_000}"
    made = Recording(runtime, client_for("alice"), cname)
    yield made
    made.close()


def playlist_slices(root: Path, playlist_key: str) -> list[tuple[str, bool]]:
    """(slice key, discontinuity before it) in playlist order."""
    folder = playlist_key.rsplit("/", 1)[0]
    out, cut = [], False
    for line in (root / playlist_key).read_text().splitlines():
        if line == "#EXT-X-DISCONTINUITY":
            cut = True
        elif line and not line.startswith("#"):
            out.append((f"{folder}/{line}", cut))
            cut = False
    return out


def spans(path: Path) -> dict[str, tuple[float, float]]:
    """First and last pts (seconds) of the video and audio of one slice."""
    found: dict[str, list[float]] = {"video": [], "audio": []}
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.pts is not None and packet.stream.type in found:
                found[packet.stream.type].append(float(packet.pts * packet.time_base))
    return {kind: (min(times), max(times)) for kind, times in found.items() if times}


def cut_gaps(root: Path, playlist_key: str, kind: str = "video") -> list[float]:
    """Media lost at each discontinuity: the next slice's first pts minus the previous
    slice's last, less one video frame (0 when nothing is lost). TS time is the recording's
    clock in every generation, so the difference is channel time."""
    entries = playlist_slices(root, playlist_key)
    step = 1 / 15 if kind == "video" else 0.02
    gaps = []
    for (before, _), (after, cut) in zip(entries, entries[1:], strict=False):
        if cut:
            gaps.append(spans(root / after)[kind][0] - spans(root / before)[kind][1] - step)
    return gaps


def decode_playlist(path: Path) -> tuple[int, float]:
    """Decode every video frame through the playlist itself: (frames, seconds spanned)."""
    with av.open(str(path)) as container:
        times = [float(f.pts * f.time_base) for f in container.decode(video=0)]
    return len(times), times[-1] - times[0]


def same_answer_as_a_fresh_replay(runtime: Runtime, sid: str) -> None:
    kept = status.server_response(runtime.service.view(sid))
    replayed = status.server_response(status.fold(runtime.events.read_stream(sid), sid))
    assert kept == replayed


def test_three_kills_then_the_fourth_ends_the_session(recording: Recording, runtime: Runtime,
                                                      storage_root: Path) -> None:
    recording.slice_of(1)
    finished_before: list[list[str]] = []
    for generation in (1, 2, 3):
        pid = recording.recorder(generation)
        recording.slice_of(generation)
        finished_before.append([e.key for e in recording.of(SliceWritten)])
        os.kill(pid, signal.SIGKILL)
        recording.recorder(generation + 1)
        answer = recording.client.query(recording.resource, recording.sid)  # answered
        assert answer["serverResponse"]["status"] >= 4
    recording.slice_of(4)
    os.kill(recording.recorder(4), signal.SIGKILL)
    wait_for("the session's end", lambda: recording.of(SessionExited), 60)

    playlist = f"fo/{recording.sid}_{recording.plan.cname}.m3u8"
    gaps = cut_gaps(storage_root, playlist)
    print(f"media gap per cut: {[round(g, 3) for g in gaps]} s")
    assert len(gaps) == 3 and max(gaps) <= MAX_GAP_S
    frames, seconds = decode_playlist(storage_root / playlist)
    assert frames >= 0.9 * 15 * seconds and seconds > 15
    assert (storage_root / playlist).read_text().rstrip().endswith("#EXT-X-ENDLIST")
    for keys in finished_before:  # every slice finished before a kill is in storage
        assert all((storage_root / key).exists() for key in keys)
    entries = [key for key, _ in playlist_slices(storage_root, playlist)]
    assert any("/bak0_" in key for key in entries) and any("/bak2_" in key for key in entries)
    assert all((storage_root / key).exists() for key in entries)

    notices = callbacks.notifications(recording.events(), recording.sid)
    kinds = [n["eventType"] for n in notices]
    failovers = [i for i, kind in enumerate(kinds) if kind == 12]
    assert len(failovers) == 3
    for at in failovers:  # 12, then recorder_started, then the slice start after the cut
        assert kinds[at + 1] == 40
        after = next(n for n in notices[at:] if n["eventType"] == 42)["payload"]["details"]
        assert after["discontinueUtcMs"] <= after["startUtcMs"]
        assert after["startUtcMs"] - after["discontinueUtcMs"] <= MAX_GAP_S * 1000
    uids = [n["payload"]["details"]["newUid"] for n in notices if n["eventType"] == 12]
    assert len(set(uids)) == 3 and str(uids[0]) != recording.plan.recorder_uid
    error = next(n for n in notices if n["eventType"] == 1)["payload"]["details"]
    exits = [n["payload"]["details"]["exitStatus"] for n in notices if n["eventType"] == 11]
    assert error["module"] == 0 and exits == [1]
    salvaged = recording.of(FileSalvaged)
    print(f"salvaged: {[(e.key.rsplit('/', 1)[-1], e.duration_s) for e in salvaged]}")
    dropped = recording.of(FileDropped)  # each kill left an MP4 part without its index
    assert [e.kind for e in dropped].count("mp4") >= 3
    same_answer_as_a_fresh_replay(runtime, recording.sid)


def test_a_paused_recorder_is_fenced_off_when_it_resumes(recording: Recording,
                                                         runtime: Runtime,
                                                         storage_root: Path) -> None:
    recording.slice_of(1)
    pid = recording.recorder(1)
    os.kill(pid, signal.SIGSTOP)
    paused = time.monotonic()
    try:  # sent while the failover is under way: generation 2 must apply it
        recording.client.update_layout(recording.resource, recording.sid, recording.plan.cname,
                                       recording.plan.recorder_uid, {"mixedVideoLayout": 1})
        wait_for("the failover", lambda: recording.of(RecorderFailed), 10)
        print(f"paused recorder noticed after {time.monotonic() - paused:.2f} s")
        recording.recorder(2)
        recording.slice_of(2)
        fence_version = recording.of(RecorderFailed)[0].version
    finally:
        os.kill(pid, signal.SIGCONT)
    resumed = time.time()
    zombie_dir = runtime.settings.workdir.resolve() / recording.sid / "g1"
    wait_for("the zombie to write again", lambda: any(
        p.stat().st_mtime > resumed for p in zombie_dir.rglob("*.ts")), 20)
    time.sleep(2)
    assert recording.stop()["serverResponse"]["uploadingStatus"] == "uploaded"

    events = recording.events()
    late = [e for e in events if e.version > fence_version and e.generation == 1]
    assert late == []  # the log took nothing from the zombie
    uploaded = {e.key: e for e in events if isinstance(e, FileUploaded)}
    for key, event in uploaded.items():
        data = (storage_root / key).read_bytes()
        if event.md5:  # every object in storage is the one its event names
            assert hashlib.md5(data, usedforsecurity=False).hexdigest() == event.md5
    playlist = f"fo/{recording.sid}_{recording.plan.cname}.m3u8"
    entries = playlist_slices(storage_root, playlist)
    assert (storage_root / playlist).read_text().rstrip().endswith("#EXT-X-ENDLIST")
    assert any("/bak0_" in key for key, _ in entries)
    assert {key for key, _ in entries} <= set(uploaded)
    zombie_files = {p.relative_to(zombie_dir).as_posix() for p in zombie_dir.rglob("*.ts")
                    if p.stat().st_mtime > resumed}
    assert zombie_files and not zombie_files & {
        key for key in uploaded if uploaded[key].generation == 1}
    assert max(cut_gaps(storage_root, playlist)) <= MAX_GAP_S
    last = storage_root / entries[-2][0]  # a whole slice of generation 2
    with av.open(str(last)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    for region, uid in zip(regions(1, [1001, 1002]), (1001, 1002), strict=True):
        expected = np.array(publisher_colors(uid - 1000)[uid - 1001][0])
        got = colour_at(frame, to_pixels(region, 360, 640))
        assert np.abs(got - expected).max() < 48, (uid, got)  # best-fit: side by side
    notices = callbacks.notifications(events, recording.sid)
    kinds = [n["eventType"] for n in notices]
    at = kinds.index(12)
    assert kinds[at + 1] == 40 and 42 in kinds[at:] and kinds.count(12) == 1
    same_answer_as_a_fresh_replay(runtime, recording.sid)


def test_a_killed_controller_recovers_its_sessions_from_the_log(recording: Recording,
                                                                runtime: Runtime,
                                                                storage_root: Path) -> None:
    recording.slice_of(1)
    recording.recorder(1)
    os.kill(ray.get(controller().get_pid.remote()), signal.SIGKILL)
    killed = time.monotonic()
    recording.recorder(2)  # the restarted controller failed the session over
    print(f"controller killed: generation 2 recording after {time.monotonic() - killed:.1f} s")
    recording.slice_of(2)
    recording.client.update_layout(recording.resource, recording.sid, recording.plan.cname,
                                   recording.plan.recorder_uid, {"mixedVideoLayout": 1})
    assert recording.client.query(recording.resource, recording.sid)["serverResponse"][
        "status"] >= 4
    assert recording.stop()["serverResponse"]["uploadingStatus"] == "uploaded"
    failed = recording.of(RecorderFailed)
    assert [(e.failed_generation, e.reason) for e in failed] == [(1, "controller restarted")]
    playlist = f"fo/{recording.sid}_{recording.plan.cname}.m3u8"
    gaps = cut_gaps(storage_root, playlist)
    print(f"controller restart: media gap {[round(g, 3) for g in gaps]} s")
    assert len(gaps) == 1 and gaps[0] <= MAX_GAP_S
    kinds = [n["eventType"] for n in callbacks.notifications(recording.events(), recording.sid)]
    assert 12 in kinds and 11 in kinds
    mp4s = [e["fileName"] for e in status.file_list(runtime.service.view(recording.sid))
            if e["fileName"].endswith(".mp4")]
    assert any("/bak0_" in name for name in mp4s)  # the MP4 goes on as a new part
    same_answer_as_a_fresh_replay(runtime, recording.sid)


def serve(runtime: Runtime, port: int, customers: dict[str, tuple[str, str]],
          cwd: Path) -> subprocess.Popen[bytes]:
    secret, appid = customers["alice"]
    address = ray.get_runtime_context().gcs_address
    s = runtime.settings
    command = [sys.executable, "-m", "cloudrec", "serve", "--port", str(port),
               "--events", s.events_url, "--storage", s.storage_url,
               "--workdir", str(s.workdir.resolve()), "--slice-seconds", str(s.slice_seconds),
               "--ray-address", address, "--customer", f"alice:{secret}:{appid}",
               "--rate-limit", "50"]
    env = {**os.environ, "RAY_ADDRESS": address,
           "CLOUDREC_RESOURCE_KEY": "failover-test-resource-key"}
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=(cwd / f"serve-{port}.log").open("wb"))
    client = RecordingClient(f"http://127.0.0.1:{port}", "alice", secret, appid)
    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError((cwd / f"serve-{port}.log").read_text()[-3000:])
        return _answers(client)

    try:
        wait_for("cloudrec serve", up, 120)
    finally:
        client.close()
    return process


def _answers(client: RecordingClient) -> bool:
    try:
        client.acquire("probe", "1")
        return True
    except Exception:
        return False


def test_a_sigkilled_serve_started_again_serves_its_sessions(
        runtime: Runtime, customers: dict[str, tuple[str, str]], tmp_path: Path,
        storage_root: Path) -> None:
    secret, appid = customers["alice"]
    first_port, second_port = free_port(), free_port()
    first = serve(runtime, first_port, customers, tmp_path)
    client = RecordingClient(f"http://127.0.0.1:{first_port}", "alice", secret, appid)
    recording = Recording(runtime, client, f"serve{int(time.time()) % 10_000}")
    try:
        recording.slice_of(1)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed = time.time()
        second = serve(runtime, second_port, customers, tmp_path)
        try:
            client.close()
            recording.client = client = RecordingClient(
                f"http://127.0.0.1:{second_port}", "alice", secret, appid)
            answer = client.query(recording.resource, recording.sid)["serverResponse"]
            assert answer["status"] >= 4
            client.update_layout(recording.resource, recording.sid, recording.plan.cname,
                                 recording.plan.recorder_uid, {"mixedVideoLayout": 1})
            client.update(recording.resource, recording.sid, recording.plan.cname,
                          recording.plan.recorder_uid,
                          {"audioUidList": {"subscribeAudioUids": ["1001"]}})
            with pytest.raises(ApiCallFailed) as used:  # the resource stays used
                client.start(recording.resource, recording.plan.cname,
                             recording.plan.recorder_uid, recording.plan.start_request())
            assert used.value.body["code"] == 7
            wait_for("a slice after the restart", lambda: any(
                e.start_ms > killed * 1000 for e in recording.of(SliceWritten)), 30)
            stopped = recording.stop()["serverResponse"]
            assert stopped["uploadingStatus"] == "uploaded"
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
    finally:
        client.close()
        recording.close()
    assert recording.of(RecorderFailed) == []  # the recorder never stopped: no gap at all
    playlist = f"fo/{recording.sid}_{recording.plan.cname}.m3u8"
    assert cut_gaps(storage_root, playlist) == []
    kinds = [n["eventType"] for n in callbacks.notifications(recording.events(), recording.sid)]
    assert 11 in kinds and 12 not in kinds
    assert [e.generation for e in recording.of(RecorderLaunched)] == [1]
    same_answer_as_a_fresh_replay(runtime, recording.sid)


def test_an_individual_recording_fails_over_on_the_same_clock(runtime: Runtime, client_for: Any,
                                                              storage_root: Path) -> None:
    """Individual mode: generation 2 continues each user's playlists (original names) with its
    `bak0_` slices after a discontinuity, on the recording's clock: no gap at the cut."""
    client = client_for("alice")
    cname = f"foind{int(time.time()) % 10_000}"
    plan = scenario.Scenario(client.appid, cname=cname, users=(1001, 1002), prefix=("fo",))
    live = scenario.LiveChannel(runtime, plan)
    request = {"recordingConfig": {"channelType": 0, "streamTypes": 2, "subscribeUidGroup": 0},
               "recordingFileConfig": {"avFileType": ["hls"]},
               "storageConfig": plan.start_request()["storageConfig"]}
    try:
        for uid in plan.users:
            live.join(uid)
        live.wait_present(list(plan.users))
        resource = client.acquire(cname, plan.recorder_uid)
        sid = client.start(resource, cname, plan.recorder_uid, request, mode="individual")
        recording = Recording.__new__(Recording)
        recording.runtime, recording.sid = runtime, sid
        recording.slice_of(1)
        os.kill(recording.recorder(1), signal.SIGKILL)
        recording.recorder(2)
        recording.slice_of(2)
        stopped = client.stop(resource, sid, cname, plan.recorder_uid, mode="individual")
    finally:
        live.close()
    names = {e["fileName"] for e in stopped["serverResponse"]["fileList"]}
    for uid in plan.users:
        for kind in ("audio", "video"):
            track = f"fo/{sid}_{cname}__uid_s_{uid}__uid_e_{kind}.m3u8"
            assert track in names and not any("bak" in name for name in names)
            entries = playlist_slices(storage_root, track)
            assert any("/bak0_" in key for key, _ in entries)
            assert all((storage_root / key).exists() for key, _ in entries)
            gaps = cut_gaps(storage_root, track, kind)
            print(f"uid {uid} {kind}: gap at the cut {gaps} s")
            # video restarts from the key frame at or before the cut: at most a GOP twice
            assert len(gaps) == 1 and -2.0 <= gaps[0] <= MAX_GAP_S
    kinds = [n["eventType"] for n in callbacks.notifications(runtime.events.read_stream(sid),
                                                             sid)]
    assert kinds.count(12) == 1 and 11 in kinds
