"""P6: event log throughput and projection lag (shared/spec/targets.md), measured in one run.

  appends/s   single-event appends, one writer thread (`append` returns once the event is
              durable: SQLite commit, or Kafka acks=all and the fold), and W writer threads on
              distinct streams (the pipelined figure a process with many sessions sees); each
              event made in the loop (a uuid and a pydantic model, ~25 us)
  ready       single-event appends of events made beforehand: what the log itself takes
  batched     events/s with appends of 100 events (one transaction / one record batch)
  8 producers events/s from 8 processes at once, each with its own client of the log and 4
              threads appending 100-event batches to streams of every partition (its streams
              read first, as a recorder starting: on Kafka that takes them up)
  100 recs    events/s from 100 simulated recordings sharing one client (one process's
              recorders), 500 single-event appends each through its own outbox, as recorders
              append: until all are in the log
  per partition  the events each partition took in the 100-recording run, per second
  memory      what a fresh client of the log holds in Python objects (tracemalloc, settled and
              collected) on the history those runs left, while it serves 0, 10, 100 and 1,000
              streams, then once it has read every partition whole from the start, as a
              lone projection runner (issue 16 point 2: it grows with the streams served,
              not the history; a Kafka client folds each stream it serves from the latest
              snapshot of its head in the heads topic and holds that stream's events, 32 MB
              in all at most; reading a partition whole, it holds the heads of the streams it
              folded last, `max_read_ids` ids in all, and a 512 KB tail of events); and a
              fresh client reading every partition whole with a budget of 16,000 ids
  lag p99     a status ProjectionRunner following the log from another log instance, events
              appended at a steady rate: time from `append` returning to the view holding it

Run: .venv/bin/python bench/events.py [--kafka 127.0.0.1:9092] [--seconds 5] [--json FILE]
(the broker: `make kafka-up`).
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloudrec.events.backends import open_event_log
from cloudrec.events.envelope import Event
from cloudrec.events.kafka import DEFAULT_PARTITIONS
from cloudrec.events.log import EventLog, every_event, partition_of
from cloudrec.events.outbox import Outbox
from cloudrec.events.segment import SliceWritten
from cloudrec.projections import status
from cloudrec.projections.runner import MemoryViewStore, ProjectionRunner


def event(stream: str, index: int) -> SliceWritten:
    return SliceWritten(stream_id=stream, at_ms=int(time.time() * 1000), generation=1,
                        key=f"{stream}_{index}.ts", index=index, start_ms=index * 15000,
                        duration_s=15.0, size=100_000)


def appends_per_s(log: EventLog, seconds: float, writers: int = 1, batch: int = 1,
                  streams: list[str] | None = None) -> float:
    """Events appended per second by `writers` threads, each on its own stream (`streams`, or
    new ones)."""
    streams = streams or [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(writers)]
    counts = [0] * writers
    deadline = time.monotonic() + seconds

    def write(n: int) -> None:
        stream = streams[n]
        while time.monotonic() < deadline:
            log.append([event(stream, counts[n] + i) for i in range(batch)])
            counts[n] += batch

    began = time.monotonic()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - began)


def ready_appends_per_s(log: EventLog, count: int = 30_000) -> float:
    """Single-event appends/s of `count` events made before the clock starts."""
    stream = f"ready-{uuid.uuid4().hex[:8]}"
    ready = [event(stream, i) for i in range(count)]
    began = time.monotonic()
    for made in ready:
        log.append([made])
    return count / (time.monotonic() - began)


class Timed:
    """The status projection, noting when each event reached the view."""

    def __init__(self) -> None:
        self.applied: dict[str, float] = {}

    def initial(self, sid: str) -> Any:
        return status.initial(sid)

    def apply(self, view: Any, e: Event) -> Any:
        self.applied.setdefault(e.event_id, time.monotonic())
        return status.apply(view, e)


def lag_p99_ms(open_log: Callable[[], EventLog], writer: EventLog, seconds: float,
               rate: float = 200.0) -> float:
    """p99 of (view holds the event) - (append returned), at `rate` events/s."""
    projection, stop = Timed(), threading.Event()
    reader = open_log()
    runner = ProjectionRunner(reader, projection, MemoryViewStore())
    runner.catch_up()

    def follow() -> None:
        while not stop.is_set():
            runner.catch_up()
            time.sleep(0.002)

    follower = threading.Thread(target=follow)
    follower.start()
    appended: dict[str, float] = {}
    stream, began = f"lag-{uuid.uuid4().hex[:8]}", time.monotonic()
    for i in range(int(seconds * rate)):
        time.sleep(max(0.0, began + i / rate - time.monotonic()))
        (stored,) = writer.append([event(stream, i)])
        appended[stored.event_id] = time.monotonic()
    deadline = time.monotonic() + 30
    while len(set(appended) & set(projection.applied)) < len(appended):
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    stop.set()
    follower.join()
    reader.close()
    lags = sorted(projection.applied.get(i, float("inf")) - t for i, t in appended.items())
    return 1000 * lags[int(0.99 * (len(lags) - 1))]


def producers_per_s(url: str, seconds: float, producers: int = 8, batch: int = 100) -> float:
    """Events/s from `producers` processes at once, each with its own client of the log and 4
    writer threads appending `batch`-event appends (streams hash over every partition). They
    open their clients and read their streams first (on Kafka that takes up their partitions,
    folding what earlier runs left there), then start together; each counts over its own
    window."""
    context = multiprocessing.get_context("spawn")
    ready, results = context.Barrier(producers), context.Queue()
    workers = [context.Process(target=_producer, args=(url, seconds, batch, ready, results))
               for _ in range(producers)]
    for worker in workers:
        worker.start()
    rates = [results.get(timeout=120 + seconds) for _ in workers]
    for worker in workers:
        worker.join()
    return sum(rates)


def _producer(url: str, seconds: float, batch: int, ready: Any, results: Any) -> None:
    log = open_log(url)
    try:
        streams = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(4)]
        for stream in streams:  # as a recorder starting: its log takes up the stream's partition
            log.read_stream(stream)
        ready.wait()
        results.put(appends_per_s(log, seconds, writers=4, batch=batch, streams=streams))
    finally:
        log.close()


def recordings_per_s(log: EventLog, seconds: float, recordings: int = 100,
                     each: int = 500) -> tuple[float, dict[int, float]]:
    """Events/s from `recordings` streams on one client, each appending `each` events one at a
    time through its own outbox as a recorder does (it never waits; queued appends reach the
    log merged): all events over the time until every outbox has flushed; and how many of them
    each partition took per second. `seconds` is unused (the work is fixed)."""
    outboxes = [Outbox(log) for _ in range(recordings)]
    streams = [f"rec-{uuid.uuid4().hex[:8]}" for _ in range(recordings)]
    events = [[event(stream, i) for i in range(each)] for stream in streams]
    began = time.monotonic()
    for i in range(each):
        for outbox, mine in zip(outboxes, events, strict=True):
            outbox.append([mine[i]])
    for outbox in outboxes:
        outbox.flush()
    took = time.monotonic() - began
    for outbox in outboxes:
        outbox.close(close_log=False)
    partitions: dict[int, float] = {}
    for stream in streams:
        p = partition_of(stream, log.partitions)
        partitions[p] = partitions.get(p, 0.0) + each / took
    return recordings * each / took, dict(sorted(partitions.items()))


SERVED = (0, 10, 100, 1000)  # streams a fresh client serves while its memory is measured


SMALL_READ_IDS = 16_000  # the heads budget of the second whole reader


def memory_against_streams(open_log: Callable[[], EventLog]) -> tuple[dict[int, float], int]:
    """MB of Python objects a newly opened client holds while it serves 0, 10, 100, 1000
    streams (reads each, 10 events), then (key -1) once it has also read every partition
    whole, and (key -2) a fresh client that read every partition whole holding heads of
    SMALL_READ_IDS ids; and the events in the log then (all that history)."""
    streams = [f"served-{n}" for n in range(max(SERVED))]
    writer = open_log()
    try:
        for stream in streams:
            writer.append([event(stream, i) for i in range(10)])
        events = sum(1 for _ in every_event(writer))
    finally:
        writer.close()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    log = open_log()
    held: dict[int, float] = {}
    previous = 0
    for count in SERVED:
        for stream in streams[previous:count]:
            assert len(log.read_stream(stream)) == 10
        previous = count
        held[count] = held_mb(before)
    for _ in every_event(log):  # then reads every partition whole, as a lone projection runner
        pass
    held[-1] = held_mb(before)
    log.close()
    if hasattr(log, "max_read_ids"):  # against the same baseline, the first client closed
        log = open_log()
        log.max_read_ids = SMALL_READ_IDS  # type: ignore[attr-defined]
        for _ in every_event(log):
            pass
        held[-2] = held_mb(before)
        log.close()
    tracemalloc.stop()
    return held, events


def held_mb(before: tracemalloc.Snapshot) -> float:
    """MB of Python objects held since `before`, settled (no fetch of the broker's in flight)
    and collected (what is held, not garbage waiting for the collector)."""
    time.sleep(1.0)
    gc.collect()
    return sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(
        before, "filename")) / 2**20


def measure(name: str, url: str, seconds: float) -> dict[str, Any]:
    log = open_log(url)
    try:
        recordings, partitions = recordings_per_s(log, seconds)
        figures = {"backend": name, "partitions": log.partitions,
                   "appends_per_s": appends_per_s(log, seconds),
                   "ready_appends_per_s": ready_appends_per_s(
                       log, 30_000 if name == "embedded" else 3_000),
                   "appends_per_s_8_writers": appends_per_s(log, seconds, writers=8),
                   "events_per_s_batched_100": appends_per_s(log, seconds, batch=100),
                   "events_per_s_8_producers": producers_per_s(url, seconds),
                   "events_per_s_100_recordings": recordings,
                   "per_partition_100_recordings": partitions,
                   "projection_lag_p99_ms": lag_p99_ms(lambda: open_log(url), log, seconds)}
    finally:
        log.close()
    figures["client_mb_by_streams_served"], figures["events_in_log"] = \
        memory_against_streams(lambda: open_log(url))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    parser.add_argument("--partitions", type=int, default=DEFAULT_PARTITIONS,
                        help=f"of the Kafka topic (default {DEFAULT_PARTITIONS}, cloudrec's)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--json", type=Path, default=Path("bench/out/events.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        embedded = f"sqlite:///{tmp}/events.db"
        kafka = f"kafka://{args.kafka}/bench-{uuid.uuid4().hex[:8]}?partitions={args.partitions}"
        rows = [measure("embedded", embedded, args.seconds),
                measure("kafka", kafka, args.seconds)]
    print(f"{'backend':<10}{'appends/s':>12}{'ready':>9}{'8 writers':>12}{'batched':>12}"
          f"{'8 producers':>13}"
          f"{'100 recs':>12}{'lag p99 ms':>12}")
    for r in rows:
        print(f"{r['backend']:<10}{r['appends_per_s']:>12,.0f}{r['ready_appends_per_s']:>9,.0f}"
              f"{r['appends_per_s_8_writers']:>12,.0f}"
              f"{r['events_per_s_batched_100']:>12,.0f}{r['events_per_s_8_producers']:>13,.0f}"
              f"{r['events_per_s_100_recordings']:>12,.0f}{r['projection_lag_p99_ms']:>12.1f}")
    for r in rows:
        shares = ", ".join(f"{p}: {rate:,.0f}" for p, rate in
                           r["per_partition_100_recordings"].items())
        print(f"{r['backend']}: {r['partitions']} partition(s), events/s each (100 recs): {shares}")
    for r in rows:
        held = r["client_mb_by_streams_served"]
        served = ", ".join(f"{n:,}: {mb:.1f}" for n, mb in held.items() if n >= 0)
        per_stream = (held[SERVED[-1]] - held[SERVED[1]]) * 2**20 / (SERVED[-1] - SERVED[1])
        print(f"{r['backend']}: a fresh client on {r['events_in_log']:,} events of history holds"
              f" MB by streams served {{{served}}}: {held[0] * 2**20 / r['events_in_log']:.1f} B"
              f" per event of history, {per_stream / 1024:.1f} KB per stream served;"
              f" {held[-1]:.1f} MB once it has read every partition whole"
              + (f" ({held[-2]:.1f} MB with heads of {SMALL_READ_IDS:,} ids)"
                 if -2 in held else ""))
    print("targets (P6): embedded >= 10,000 appends/s; Kafka >= 20,000 events/s acks=all;"
          " lag p99 <= 200 ms")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2))


def open_log(url: str) -> EventLog:
    return open_event_log(url)


if __name__ == "__main__":
    main()
