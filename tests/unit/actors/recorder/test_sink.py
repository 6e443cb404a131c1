"""The threaded sink writes what a synchronous `RecordingOutput` writes, reports on the caller's
thread, and never swallows an error raised on its worker."""

from __future__ import annotations

import threading

import av
import numpy as np
import pytest

from cloudrec.actors.recorder.output import RecordingOutput
from cloudrec.actors.recorder.sink import ThreadedOutput

from .test_output import T0, config, decode, feed


def written(output_class, cfg):
    files, threads = [], []

    def on_file(f):
        files.append(f)
        threads.append(threading.current_thread())

    output = output_class(cfg, on_file)
    output.mark_track_start("VIDEO", T0)
    feed(output, T0, 2.5)
    output.close()
    return files, threads


def test_same_files_as_the_synchronous_output_reported_on_the_callers_thread(tmp_path):
    expected, _ = written(RecordingOutput, config(tmp_path / "sync", slice_seconds=1.0))
    files, threads = written(ThreadedOutput, config(tmp_path / "thread", slice_seconds=1.0))
    assert [(f.kind, f.key, f.start_ms, f.duration_s, f.index) for f in files] == [
        (f.kind, f.key, f.start_ms, f.duration_s, f.index) for f in expected]
    assert set(threads) == {threading.current_thread()}
    for ours, theirs in zip(files, expected, strict=True):
        if ours.kind != "playlist":
            mine, sync = decode(ours.path), decode(theirs.path)
            assert [f.pts for f in mine["video"]] == [f.pts for f in sync["video"]]
            assert [f.pts for f in mine["audio"]] == [f.pts for f in sync["audio"]]


def test_drain_reports_what_a_synchronous_output_has_reported_by_then(tmp_path):
    expected, files = [], []
    sync = RecordingOutput(config(tmp_path / "sync", slice_seconds=1.0), expected.append)
    feed(sync, T0, 2.5)
    output = ThreadedOutput(config(tmp_path / "thread", slice_seconds=1.0), files.append)
    feed(output, T0, 2.5)
    output.drain()
    assert [f.key for f in files] == [f.key for f in expected] != []
    sync.close()
    output.close()
    assert [f.key for f in files] == [f.key for f in expected]


def test_an_error_on_the_worker_is_raised_to_the_caller(tmp_path):
    output = ThreadedOutput(config(tmp_path), lambda f: None)
    frame = av.VideoFrame.from_ndarray(np.zeros((64, 96, 3), np.uint8), format="rgb24")
    output.push_video(frame, T0)
    output.push_audio(frame, T0)  # type: ignore[arg-type]  # not audio: fails on the worker
    with pytest.raises(Exception):  # noqa: B017 - whatever PyAV raises for it
        output.drain()
    output.push_video(frame, T0 + 100)  # the worker carries on
    output.close()


def test_an_error_is_raised_by_close_after_the_files_are_written(tmp_path):
    files = []
    output = ThreadedOutput(config(tmp_path), files.append)
    frame = av.VideoFrame.from_ndarray(np.zeros((64, 96, 3), np.uint8), format="rgb24")
    output.push_video(frame, T0)
    output.push_audio(frame, T0)  # type: ignore[arg-type]
    with pytest.raises(Exception):  # noqa: B017
        output.close()
    assert {f.kind for f in files} == {"slice", "playlist", "mp4"}
