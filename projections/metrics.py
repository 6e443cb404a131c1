"""Operational counters, a pure fold over the whole log (every stream, in log order).

What `GET /metrics` reports from the log: sessions by state, slices written, files uploaded and
how long each took from written to confirmed, failovers, and the events themselves by type.
Nothing here is read from memory of a running process, so a restarted server reports the same
numbers as before it stopped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cloudrec.events.envelope import Event
from cloudrec.events.recording import (
    RecorderFailed,
    RecordingStarted,
    SessionExited,
    StopRequested,
)
from cloudrec.events.segment import Mp4Written, SliceWritten
from cloudrec.events.upload import FileUploaded

# Upload latency buckets (seconds, Prometheus `le`), written-to-confirmed
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
STATES = ("recording", "stopping", "ended")


@dataclass(frozen=True)
class Metrics:
    positions: dict[int, int] = field(default_factory=dict)  # partition -> folded up to
    sessions: dict[str, str] = field(default_factory=dict)  # live sid -> recording|stopping
    ended: int = 0  # sessions that exited (not kept one by one: the log grows for ever)
    events: dict[str, int] = field(default_factory=dict)  # by type
    slices_written: int = 0
    slice_seconds: float = 0.0
    files_uploaded: int = 0
    bytes_uploaded: int = 0
    failovers: int = 0
    written_ms: dict[str, int] = field(default_factory=dict)  # key -> when written (pending)
    latency_counts: tuple[int, ...] = (0,) * (len(LATENCY_BUCKETS) + 1)  # last: +Inf
    latency_sum_s: float = 0.0

    def by_state(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for state in self.sessions.values():
            counts[state] += 1
        counts["ended"] = self.ended
        return counts


def fold(events: Iterable[tuple[int, Event]], metrics: Metrics | None = None,
         partition: int = 0) -> Metrics:
    """`metrics` (or empty ones) advanced over `(position, event)` pairs of one partition."""
    m = metrics or Metrics()
    sessions, counts = dict(m.sessions), dict(m.events)
    written, latency = dict(m.written_ms), list(m.latency_counts)
    position, ended, slices, seconds, files, size, failovers, latency_sum = (
        m.positions.get(partition, 0), m.ended, m.slices_written, m.slice_seconds, m.files_uploaded,
        m.bytes_uploaded, m.failovers, m.latency_sum_s)
    for at, event in events:
        position = at
        kind = type(event).__name__
        counts[kind] = counts.get(kind, 0) + 1
        sid = event.stream_id
        if isinstance(event, RecordingStarted):
            sessions[sid] = "recording"
        elif isinstance(event, StopRequested) and sessions.get(sid) == "recording":
            sessions[sid] = "stopping"
        elif isinstance(event, SessionExited):
            sessions.pop(sid, None)
            ended += 1
        elif isinstance(event, RecorderFailed):
            failovers += 1
        elif isinstance(event, SliceWritten):
            slices, seconds = slices + 1, seconds + event.duration_s
            written[event.key] = event.at_ms
        elif isinstance(event, Mp4Written):
            written[event.key] = event.at_ms
        elif isinstance(event, FileUploaded):
            files, size = files + 1, size + event.size
            if (since := written.pop(event.key, None)) is not None:
                took = max(0, event.at_ms - since) / 1000
                latency[_bucket(took)] += 1
                latency_sum += took
    return Metrics(m.positions | {partition: position}, sessions, ended, counts, slices, seconds,
                   files, size, failovers, written, tuple(latency), latency_sum)


def _bucket(seconds: float) -> int:
    return next((i for i, le in enumerate(LATENCY_BUCKETS) if seconds <= le),
                len(LATENCY_BUCKETS))


def exposition(m: Metrics, lag: dict[str, int], recorder_cpu: float | None) -> str:
    """Prometheus text format (version 0.0.4)."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str,
               samples: Iterable[tuple[str, float]]) -> None:
        lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"])
        lines.extend(f"{name}{labels} {_number(value)}" for labels, value in samples)

    metric("cloudrec_sessions", "gauge", "Recording sessions by state, from the event log.",
           ((f'{{state="{s}"}}', n) for s, n in m.by_state().items()))
    metric("cloudrec_slices_written_total", "counter", "HLS slices finished on local disk.",
           [("", m.slices_written)])
    metric("cloudrec_slice_seconds_total", "counter", "Media seconds in those slices.",
           [("", m.slice_seconds)])
    metric("cloudrec_files_uploaded_total", "counter", "Files the storage confirmed.",
           [("", m.files_uploaded)])
    metric("cloudrec_uploaded_bytes_total", "counter", "Bytes the storage confirmed.",
           [("", m.bytes_uploaded)])
    cumulative, samples = 0, list[tuple[str, float]]()
    for le, count in zip((*map(str, LATENCY_BUCKETS), "+Inf"), m.latency_counts, strict=True):
        cumulative += count
        samples.append((f'_bucket{{le="{le}"}}', cumulative))
    samples += [("_sum", m.latency_sum_s), ("_count", cumulative)]
    metric("cloudrec_upload_latency_seconds", "histogram",
           "From a file written to its upload confirmed.", samples)
    metric("cloudrec_failovers_total", "counter", "Recorder generations lost and replaced.",
           [("", m.failovers)])
    metric("cloudrec_events_total", "counter", "Events in the log, by type.",
           ((f'{{type="{t}"}}', n) for t, n in sorted(m.events.items())))
    metric("cloudrec_event_log_position", "gauge",
           "The log position folded so far, by partition.",
           ((f'{{partition="{p}"}}', n) for p, n in sorted(m.positions.items())))
    metric("cloudrec_event_log_lag", "gauge",
           "Events appended that a reader has not folded yet, by reader.",
           ((f'{{reader="{r}"}}', n) for r, n in sorted(lag.items())))
    if recorder_cpu is not None:
        metric("cloudrec_recorder_cpu_percent", "gauge",
               "CPU used by the live recorders, summed (100 = one core).",
               [("", recorder_cpu)])
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
