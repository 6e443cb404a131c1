"""/metrics from the log: counters folded over every stream, and their Prometheus text."""

from __future__ import annotations

import re

from cloudrec.events.envelope import Event
from cloudrec.projections import metrics

from .session import SessionEvents

LINE = re.compile(r'^[a-z_]+(\{[a-z]+="[^"]*"\})? -?[0-9.e+]+$')


def log_of(*sessions: list[Event]) -> list[tuple[int, Event]]:
    return list(enumerate((e for events in sessions for e in events), start=1))


def recorded() -> list[tuple[int, Event]]:
    one, two, three = SessionEvents("s1"), SessionEvents("s2"), SessionEvents("s3")
    slice0 = one.slice(0)
    ended = [one.started(), one.launched(), slice0, one.failed(), one.launched(2),
             one.uploaded(slice0.key, "slice"), one.stop_requested(), one.stopped(), one.exited()]
    stopping = [two.started(), two.launched(), two.stop_requested()]
    recording = [three.started(), three.launched(), three.slice(0)]
    return log_of(ended, stopping, recording)


def test_sessions_by_state_slices_uploads_latency_and_failovers() -> None:
    m = metrics.fold(recorded())
    assert m.by_state() == {"recording": 1, "stopping": 1, "ended": 1}
    assert (m.slices_written, m.files_uploaded, m.failovers) == (2, 1, 1)
    assert m.positions == {0: len(recorded())} and m.events["RecordingStarted"] == 3
    assert sum(m.latency_counts) == 1 and m.latency_sum_s == 0.5  # 100 ms an event
    assert list(m.written_ms) == [next(e.key for _, e in recorded()[::-1]
                                       if type(e).__name__ == "SliceWritten")]


def test_folding_in_batches_gives_the_same_metrics_as_one_fold() -> None:
    events = recorded()
    step = metrics.Metrics()
    for start in range(0, len(events), 4):
        step = metrics.fold(events[start:start + 4], step)
    assert step == metrics.fold(events)


def test_the_exposition_is_prometheus_text_with_a_cumulative_histogram() -> None:
    text = metrics.exposition(metrics.fold(recorded()), {"status": 2}, 37.5)
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert all(LINE.match(line) for line in samples), samples
    assert 'cloudrec_sessions{state="ended"} 1' in samples
    assert 'cloudrec_upload_latency_seconds_bucket{le="0.25"} 0' in samples
    assert 'cloudrec_upload_latency_seconds_bucket{le="0.5"} 1' in samples
    assert 'cloudrec_upload_latency_seconds_bucket{le="+Inf"} 1' in samples
    assert 'cloudrec_event_log_lag{reader="status"} 2' in samples
    assert "cloudrec_recorder_cpu_percent 37.5" in samples
    assert "# TYPE cloudrec_failovers_total counter" in text.splitlines()
    without_cpu = metrics.exposition(metrics.Metrics(), {}, None)
    assert "cloudrec_recorder_cpu_percent" not in without_cpu
