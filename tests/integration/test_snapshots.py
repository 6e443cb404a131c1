"""Snapshots over the REST API (spec §5.3): snapshots only, and recording + snapshots.

Tried: one synthetic user publishing H.264 + Opus; two individual sessions on its channel through
the REST API with `snapshotConfig {captureInterval: 1, fileType: ["jpg"]}`, one without
`recordingFileConfig` (snapshots only), one with it; ~6 s, then stop; and a snapshot start that
the spec forbids (streamTypes 0). Checked from storage and the log: each session's JPGs are in
storage under its prefix, named per §13.1, decode to the user's colour, about one a second;
callback 45 names each uploaded JPG (serviceScene rtc_snapshot for snapshots only); the
snapshot-only `query` answers status and sliceStartTime only and its `stop` uploadingStatus only,
with no audio/video file written; the recording session also has its playlists.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from cloudrec.actors.channel.handle import ChannelHandle
from cloudrec.actors.channel.synthetic import SyntheticPublisher
from cloudrec.client import ApiCallFailed, RecordingClient
from cloudrec.events.recording import RecorderLeft, RecordingStarted
from cloudrec.events.segment import SnapshotWritten
from cloudrec.projections import callbacks
from cloudrec.runtime import Runtime

from .media import Feeds

pytestmark = [pytest.mark.integration, pytest.mark.slow,
              pytest.mark.parametrize("runtime", ["embedded"], indirect=True)]

UID, COLOUR, RECORD_S = 7301, (200, 60, 160), 6.0
STORAGE = {"vendor": 1, "region": 0, "bucket": "b", "accessKey": "local", "secretKey": "local"}
SNAPSHOTS = {"captureInterval": 1, "fileType": ["jpg"]}


@pytest.fixture(scope="module")
def recorded(runtime: Runtime, server: Any, customers: dict[str, tuple[str, str]]
             ) -> dict[str, Any]:
    secret, appid = customers["alice"]
    client = RecordingClient(server.url, "alice", secret, appid)
    cname, tag = f"snap{int(time.time())}", f"{time.time_ns()}"
    channel = ChannelHandle(runtime.get_channel(appid, cname))
    feeds = Feeds(channel)
    feeds.add(UID, SyntheticPublisher(UID, COLOUR, 500.0, 160, 90))
    recording = {"streamTypes": 2, "channelType": 0, "subscribeUidGroup": 0}
    bodies = {
        "only": {"recordingConfig": recording, "snapshotConfig": SNAPSHOTS,
                 "storageConfig": {**STORAGE, "fileNamePrefix": [f"only{tag}"]}},
        "both": {"recordingConfig": recording, "snapshotConfig": SNAPSHOTS,
                 "recordingFileConfig": {"avFileType": ["hls"]},
                 "storageConfig": {**STORAGE, "fileNamePrefix": [f"both{tag}"]}},
    }
    sessions, answers = {}, {}
    for uid, (name, body) in zip(("900061", "900062"), bodies.items(), strict=True):
        resource = client.acquire(cname, uid)
        sessions[name] = (resource, client.start(resource, cname, uid, body,
                                                 mode="individual"), uid)
    deadline = time.monotonic() + 90  # a loaded machine may take seconds to start a recorder
    while time.monotonic() < deadline and not all(
            any(isinstance(e, SnapshotWritten) for e in runtime.events.read_stream(sid))
            for _, sid, _ in sessions.values()):
        time.sleep(0.2)
    time.sleep(RECORD_S)
    for name, (resource, sid, uid) in sessions.items():
        answers[f"query-{name}"] = client.query(resource, sid, mode="individual")
        answers[f"stop-{name}"] = client.stop(resource, sid, cname, uid, mode="individual")
    refused_resource = client.acquire(cname, "900063")
    try:
        client.start(refused_resource, cname, "900063", {
            "recordingConfig": {**recording, "streamTypes": 0}, "snapshotConfig": SNAPSHOTS,
            "storageConfig": {**STORAGE, "fileNamePrefix": ["never"]}}, mode="individual")
        refused: Any = None
    except ApiCallFailed as error:
        refused = error
    feeds.close()
    client.close()
    root = Path(runtime.settings.storage_url.removeprefix("file://"))
    notices = {name: callbacks.notifications(runtime.events.read_stream(sid), sid)
               for name, (_, sid, _) in sessions.items()}
    spans = {name: _span_s(runtime.events.read_stream(sid))
             for name, (_, sid, _) in sessions.items()}
    return {"root": root, "tag": tag, "sessions": sessions, "answers": answers,
            "notices": notices, "cname": cname, "refused": refused, "spans": spans}


def _span_s(events: list[Any]) -> float:
    """How long the session recorded: from its start to its recorder leaving."""
    began = next(e.at_ms for e in events if isinstance(e, RecordingStarted))
    left = next(e.at_ms for e in events if isinstance(e, RecorderLeft))
    return (left - began) / 1000


@pytest.mark.parametrize("name", ["only", "both"])
def test_jpgs_in_storage_about_one_a_second_with_callback_45_each(recorded: dict[str, Any],
                                                                 name: str) -> None:
    _, sid, _ = recorded["sessions"][name]
    folder = recorded["root"] / f"{name}{recorded['tag']}"
    jpgs = sorted(folder.glob(f"{sid}_{recorded['cname']}__uid_s_{UID}__uid_e_video_*.jpg"))
    span = recorded["spans"][name]  # RECORD_S, plus starting and stopping on a busy machine
    assert RECORD_S - 2 <= len(jpgs) <= span + 2, (span, [p.name for p in jpgs])
    for path in jpgs:
        with av.open(str(path)) as container:
            [frame] = list(container.decode(video=0))
        pixels = frame.to_ndarray(format="rgb24").reshape(-1, 3)
        assert np.abs(np.median(pixels, axis=0) - COLOUR).max() < 30, path.name
    stamps = [int(p.stem.rsplit("_", 1)[1][-5:]) for p in jpgs]  # ssSSS of utc17
    steps = [(b - a) % 60_000 for a, b in zip(stamps, stamps[1:], strict=False)]
    assert all(900 <= step <= 1200 for step in steps), steps
    notices = recorded["notices"][name]
    named = [n["payload"]["details"]["fileName"] for n in notices if n["eventType"] == 45]
    assert sorted(named) == [f"{name}{recorded['tag']}/{p.name}" for p in jpgs]
    scene = "rtc_snapshot" if name == "only" else "rtc_record"
    assert {n["payload"]["serviceScene"] for n in notices} == {scene}
    media = list(folder.glob("*.m3u8")) + list(folder.glob("*.ts"))
    assert bool(media) == (name == "both")


def test_snapshot_only_answers_carry_no_file_list(recorded: dict[str, Any]) -> None:
    query = recorded["answers"]["query-only"]["serverResponse"]
    assert set(query) == {"status", "sliceStartTime"} and query["sliceStartTime"] > 0
    assert recorded["answers"]["stop-only"]["serverResponse"] == {"uploadingStatus": "uploaded"}
    assert recorded["answers"]["query-both"]["serverResponse"]["fileListMode"] == "json"


def test_snapshots_without_video_are_refused_with_code_2(recorded: dict[str, Any]) -> None:
    refused = recorded["refused"]
    assert refused is not None and refused.status == 400 and refused.body["code"] == 2
    assert "snapshotConfig" in refused.body["reason"]
