"""Snapshots (spec §5.3): a JPG of each user's video every captureInterval, individual mode.

Tried: two synthetic users (distinct colours) for 7 s on a simulated clock, snapshots every
second, alone and with recording; user 2 sends no video from 2.5 s to 4 s. Checked: every JPG
decodes to its user's colour, is named `<sid>_<cname>__uid_s_<uid>__uid_e_video_<utc17>.jpg`
by its frame's time, user 1 has one per second, user 2's pause while it sends no video and come
back with it; snapshots only writes no audio/video file; with recording the slices are there
too. Then the projections: callback 45 per uploaded snapshot (serviceScene rtc_snapshot for a
snapshot-only session), and the query/stop answers of a snapshot-only session (§8, §9).
"""

from __future__ import annotations

import re
from pathlib import Path

import av
import numpy as np
import pytest

from cloudrec.actors.channel.synthetic import publisher_colors
from cloudrec.actors.recorder.config import RecordingConfig
from cloudrec.actors.recorder.individual import IndividualRecorder
from cloudrec.actors.recorder.timebase import utc17
from cloudrec.actors.uploader.uploader import UploadJob
from cloudrec.events.memory import MemoryEventLog
from cloudrec.events.recording import RecordingStarted
from cloudrec.events.segment import SnapshotWritten
from cloudrec.events.upload import FileUploaded
from cloudrec.projections import callbacks, status

from .live import synthetic_channel

T0 = 1_800_000_000_000_000  # µs
SID = "s" * 32
GAP = (2.5, 4.0)  # user 2 sends no video (4.0 is a key frame: 1 s GOP)


def record(tmp_path: Path, record_files: bool, seconds: float = 7.0
           ) -> tuple[list[UploadJob], list[SnapshotWritten]]:
    clock, channel, sources = synthetic_channel(2, T0)
    config = RecordingConfig(sid=SID, appid="app", cname="room", recorder_uid=99,
                             generation=1, workdir=tmp_path, mode="individual",
                             file_prefix=("snap",), slice_seconds=2.0, snapshot_interval_s=1,
                             av_file_types=("hls",) if record_files else ())
    jobs: list[UploadJob] = []
    events = MemoryEventLog()
    core = IndividualRecorder(config, events, jobs.append, t0_us=T0)
    for step in range(1, int(seconds * 10) + 1):
        clock["now"] = T0 + step * 100_000
        for source in sources:
            packets = source.packets_until(step / 10)
            channel.push([p for p in packets if not (
                p.uid == 2 and p.kind == "video" and GAP[0] <= p.seconds < GAP[1])])
        core.receive(channel.pull("rec"))
        core.render(clock["now"])
    core.finish(clock["now"])
    return jobs, [e for e in events.read_stream(SID) if isinstance(e, SnapshotWritten)]


def colour(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        [frame] = list(container.decode(video=0))
    image = frame.to_ndarray(format="rgb24")
    return np.median(image.reshape(-1, 3), axis=0)


@pytest.mark.parametrize("record_files", [False, True], ids=["snapshots-only", "with-recording"])
def test_a_jpg_per_user_and_interval_pausing_while_a_user_sends_no_video(
        tmp_path: Path, record_files: bool) -> None:
    jobs, written = record(tmp_path, record_files)
    snapshots = [job for job in jobs if job.kind == "snapshot"]
    assert [job.key for job in snapshots] == [e.key for e in written]
    looks = publisher_colors(2)
    seconds: dict[int, list[float]] = {1: [], 2: []}
    for job, event in zip(snapshots, written, strict=True):
        uid = int(event.stream_uid)
        assert re.fullmatch(rf"snap/{SID}_room__uid_s_{uid}__uid_e_video_\d{{17}}\.jpg", job.key)
        assert job.key.endswith(f"_{utc17(event.start_ms)}.jpg")
        assert np.abs(colour(job.path) - looks[uid - 1][0]).max() < 30, job.key
        assert (event.width, event.height) == (160, 90)
        seconds[uid].append((event.start_ms - T0 // 1000) / 1000)
    # the first frame at or after each second (channel time runs ~40 ms after media time)
    assert all(s % 1 < 0.15 for s in seconds[1] + seconds[2]), seconds
    assert [int(s) for s in seconds[1]] == [0, 1, 2, 3, 4, 5, 6, 7]
    # user 2: nothing while it sends no video (2.5-4 s); again from 4 s, on the interval
    assert [int(s) for s in seconds[2]] == [0, 1, 2, 4, 5, 6, 7]
    media = [job for job in jobs if job.kind in ("slice", "playlist")]
    assert bool(media) == record_files


def started(snapshot_only: bool) -> RecordingStarted:
    return RecordingStarted(stream_id=SID, at_ms=T0 // 1000, appid="app", cname="room",
                            uid="99", resource_id="r", mode="individual", config={},
                            av_file_types=[] if snapshot_only else ["hls"],
                            file_prefix=["snap"], playlist="")


@pytest.mark.parametrize("snapshot_only", [True, False])
def test_callback_45_per_uploaded_snapshot_and_the_snapshot_only_answers(
        snapshot_only: bool) -> None:
    at = T0 // 1000
    key = f"snap/{SID}_room__uid_s_1__uid_e_video_{utc17(at + 1000)}.jpg"
    events = [started(snapshot_only),
              SnapshotWritten(stream_id=SID, at_ms=at + 1000, generation=1, key=key,
                              stream_uid="1", start_ms=at + 1000, width=160, height=90,
                              size=900),
              FileUploaded(stream_id=SID, at_ms=at + 1100, generation=1, key=key,
                           kind="snapshot", size=900)]
    events = [e.model_copy(update={"version": i + 1}) for i, e in enumerate(events)]
    notices = callbacks.notifications(events, SID)
    [snap] = [n for n in notices if n["eventType"] == 45]
    assert snap["payload"]["details"] == {"msgName": "recorder_snapshot_file", "fileName": key}
    scene = "rtc_snapshot" if snapshot_only else "rtc_record"
    assert {n["payload"]["serviceScene"] for n in notices} == {scene}
    view = status.fold(events, SID)
    if snapshot_only:
        assert status.server_response(view) == {"status": view.status, "sliceStartTime": at + 1000}
        assert set(status.stop_response(view)) == {"uploadingStatus"}
    else:
        assert status.server_response(view)["fileListMode"] == "json"
