"""P8: how many concurrent recordings the event log and the projection runners carry on this
machine (fleet simulation, no media).

N simulated recordings (`fleet_model.py`: a default mix-mode recording's events at the rates the
code and the recorded logs give, 0.433 events/s each) append from `--writer-processes` processes
(recorder hosts, 2), each with its own log instance shared by `--writers` threads (2; 16 on
Kafka); a recording and its channel belong to one thread, so their appends keep their order.
Another process, as `cloudrec serve`'s API process, runs the status `ProjectionRunner` (the
`query` view) and the webhook deliverer's `CallbackRunner` (`Deliveries`, every app with a
webhook; notifications go to a no-op, the recordings append their `CallbackDelivered`
themselves), each on its own log instance on the same URL, following it (status every
`--status-poll-ms` 10, callbacks every 20 ms as the deliverer does), views in memory. An event's
lag = when the runner's view store held it (its `save` returned) - when its `append` returned
(CLOCK_MONOTONIC: one machine). Each N runs on a fresh log (SQLite file or Kafka topic); each
recording is a uniform `phase` into its 30-minute life, so starts and stops go on at the fleet's
steady rate, and what the runners need of the part before t = 0 is appended first, untimed.

N goes up (10, 30, 100, 300, 1000, 3000, 5000, 10000, ...) until the lag p99 of either runner is
above `--lag-ms` (200, P6's bound) or the writers fall behind (fewer than 97 % of the window's
events appended, or appends more than 1 s late at p99). Printed per N: events/s offered and
appended, lag p50/p99 of both runners, the CPU each runner's thread spent per event appended,
the writers' CPU per event (building it included); then the largest N that held. `--json FILE`
(default bench/out/fleet.json) keeps the figures. `--quick`: N = 100, 1000, 3000, 4 s windows.

Run: .venv/bin/python bench/fleet.py [--kafka 127.0.0.1:9092 [--partitions 6]] [--quick]
     [--steps 100,1000] [--json FILE]  (the broker: `make kafka-up`)
"""

from __future__ import annotations

import argparse
import heapq
import json
import multiprocessing
import os
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from fleet_model import Channel, Moment, Rates, lives

from cloudrec.events.backends import open_event_log
from cloudrec.events.envelope import Event
from cloudrec.projections import status
from cloudrec.projections.delivery import Deliveries
from cloudrec.projections.runner import CallbackRunner, MemoryViewStore, ProjectionRunner
from events import appends_per_s  # bench/events.py (P6), run as a script from bench/

STEPS = (10, 30, 100, 300, 1000, 3000, 5000, 10000, 20000, 30000)
QUICK_STEPS = (100, 1000, 3000)
APPS = 10
CALLBACKS_POLL_S = 0.02  # Deliverer.poll_s
PREFILL_BATCH = 500
PREFILLED = {"RecordingStarted", "RecorderLaunched"}


class Timed:
    """A projection that notes the ids of the events it folds (until the store saves)."""

    def __init__(self, projection: Any) -> None:
        self.projection = projection
        self.folded: list[str] = []

    def initial(self, sid: str) -> Any:
        return self.projection.initial(sid)

    def apply(self, view: Any, event: Event) -> Any:
        self.folded.append(event.event_id)
        return self.projection.apply(view, event)


class TimedStore:
    """A `MemoryViewStore` that stamps the events folded since its last save, when it saves."""

    def __init__(self, timed: Timed) -> None:
        self.inner, self.timed = MemoryViewStore(), timed
        self.held: dict[str, float] = {}

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.inner.save(*args, **kwargs)
        now = time.monotonic()
        for event_id in self.timed.folded:
            self.held.setdefault(event_id, now)
        self.timed.folded.clear()

    def position(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.position(*args, **kwargs)

    def get(self, stream_id: str) -> Any:
        return self.inner.get(stream_id)

    def __getattr__(self, name: str) -> Any:  # whatever else a runner asks of its store
        return getattr(self.inner, name)


def serve_runners(url: str, conn: Connection, status_poll_s: float) -> None:
    """The service's side, in its own process: both runners, each on its own log instance."""
    runners: dict[str, tuple[ProjectionRunner, TimedStore, float]] = {}
    for name, poll in (("status", status_poll_s), ("callbacks", CALLBACKS_POLL_S)):
        log = open_event_log(url)
        if name == "status":
            timed = Timed(status)
            store = TimedStore(timed)
            runner = ProjectionRunner(log, timed, store)  # type: ignore[arg-type]
        else:
            timed = Timed(Deliveries(lambda appid, event_type: True))
            store = TimedStore(timed)
            runner = CallbackRunner(log, timed, store, deliver=lambda pending: None)  # type: ignore[arg-type]
        runner.catch_up()  # the prefill, untimed
        store.held.clear()
        runners[name] = (runner, store, poll)
    stop, cpu = threading.Event(), {}

    def follow(name: str) -> None:
        runner, _, poll = runners[name]
        began, wall = time.thread_time(), time.monotonic()
        while not stop.is_set():
            runner.catch_up()
            time.sleep(poll)
        runner.catch_up()
        cpu[name] = time.thread_time() - began
        cpu[f"{name}_share"] = cpu[name] / (time.monotonic() - wall)

    process_began = time.process_time()
    threads = [threading.Thread(target=follow, args=(name,)) for name in runners]
    conn.send("ready")
    for thread in threads:
        thread.start()
    expected = conn.recv()  # events appended after "ready"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(
            len(store.held) < expected for _, store, _ in runners.values()):
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join()
    conn.send({"held": {name: store.held for name, (_, store, _) in runners.items()},
               "thread_cpu_s": cpu, "process_cpu_s": time.process_time() - process_began})
    for runner, _, _ in runners.values():
        runner.log.close()


def prefilled(event: Event) -> bool:
    return getattr(event, "type", "") in PREFILLED or getattr(event, "event_type", 0) == 40


class Fleet:
    """N channels, each recorded over and over (`fleet_model.lives`)."""

    def __init__(self, n: int, rates: Rates, epoch_ms: int, seed: int,
                 part: tuple[int, int] = (0, 1)) -> None:
        """Recordings `part[0]`, `part[0] + part[1]`, ... of the N (phases drawn for all)."""
        rng = random.Random(seed)
        phases = [rng.uniform(0, rates.life_s) for _ in range(n)]
        self.rates = rates
        self.slots: list[Iterator[Moment]] = []
        self.heads: list[Moment] = []
        for i in range(part[0], n, part[1]):
            channel, phase = Channel(f"app{i % APPS}", f"ch{i}"), phases[i]
            # the users there at `phase` (before, as far as the log is concerned): a user left
            # at the first change of a life, one joined at the second, ...
            changes = max(0, int((phase - rates.change_s / 2) // rates.change_s) + 1)
            for _ in range(rates.users - changes % 2):
                channel.joined(epoch_ms)
            self.slots.append(lives(rates, channel, epoch_ms, phase))

    def prefill(self, log: Any) -> int:
        """Append what the runners need of each recording begun before t = 0 (its
        `RecordingStarted`, `RecorderLaunched` and that one's callback), untimed, in large
        appends (one stream each); keep each slot's first moment at t >= 0. The rest of the
        history is left out: the views it would build stay small (a status view keeps the keys
        uploaded), and folding it all first would take minutes at N = 10,000."""
        appended, per_stream = 0, {}
        self.heads = []
        for slot in self.slots:
            for t, events in slot:
                if t >= 0:
                    self.heads.append((t, events))
                    break
                for event in events:
                    if prefilled(event):
                        per_stream.setdefault(event.stream_id, []).append(event)
        for events in per_stream.values():
            for i in range(0, len(events), PREFILL_BATCH):
                log.append(events[i:i + PREFILL_BATCH])
                appended += len(events[i:i + PREFILL_BATCH])
        return appended

    def shard(self, k: int, of: int) -> list[tuple[float, int, list[Event], Iterator[Moment]]]:
        return [(self.heads[i][0], i, self.heads[i][1], self.slots[i])
                for i in range(k, len(self.slots), of)]


def drive(log: Any, shard: list[tuple[float, int, list[Event], Iterator[Moment]]], began: float,
          warmup: float, end: float, out: dict[str, Any]) -> None:
    """Append a shard's moments at their times until `end` (seconds after `began`); note each
    event appended after `warmup`: (id, due, returned)."""
    heap = list(shard)
    heapq.heapify(heap)
    notes: list[tuple[str, float, float]] = []
    scheduled = appended = 0
    give_up = end + 5.0  # behind by this much: count the rest as not appended
    while heap and heap[0][0] < end:
        t, i, events, slot = heap[0]
        now = time.monotonic() - began
        if t > now:
            time.sleep(t - now)
            continue
        heapq.heappop(heap)
        counted = t >= warmup
        scheduled += len(events) if counted else 0
        if now <= give_up:
            log.append(events)
            returned = time.monotonic()
            appended += len(events) if counted else 0
            if counted:
                notes.extend((e.event_id, began + t, returned) for e in events)
        t, events = next(slot)
        heapq.heappush(heap, (t, i, events, slot))
    out.update(notes=notes, scheduled=scheduled, appended=appended)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))]


def write_part(url: str, n: int, rates: Rates, epoch_ms: int, seed: int, part: tuple[int, int],
               threads: int, warmup: float, seconds: float, conn: Connection) -> None:
    """One writer process (a recorder host): its part of the fleet, prefilled, then driven by
    `threads` threads through one log instance from the time the coordinator sends."""
    log = open_event_log(url)
    fleet = Fleet(n, rates, epoch_ms, seed, part)
    conn.send(fleet.prefill(log))
    began = conn.recv()
    shards = [fleet.shard(k, threads) for k in range(threads)]
    outs: list[dict[str, Any]] = [{} for _ in shards]
    counting, cpu_began = CountingLog(log), time.process_time()
    workers = [threading.Thread(target=drive, args=(counting, shard, began, warmup,
                                                    warmup + seconds, out))
               for shard, out in zip(shards, outs, strict=True)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    conn.send({"notes": [note for out in outs for note in out["notes"]],
               "scheduled": sum(out["scheduled"] for out in outs),
               "appended": sum(out["appended"] for out in outs),
               "events": counting.events, "cpu_s": time.process_time() - cpu_began})
    log.close()


def step(url: str, n: int, rates: Rates, args: argparse.Namespace) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    epoch_ms, began_build = int(time.time() * 1000), time.monotonic()
    writers = []
    for k in range(args.writer_processes):
        ours, theirs = context.Pipe()
        process = context.Process(target=write_part, args=(
            url, n, rates, epoch_ms, args.seed + n, (k, args.writer_processes), args.writers,
            args.warmup, args.seconds, theirs))
        process.start()
        writers.append((process, ours))
    prefilled = sum(conn.recv() for _, conn in writers)
    prefill_s = time.monotonic() - began_build
    ours, theirs = context.Pipe()
    service = context.Process(target=serve_runners, args=(url, theirs, args.status_poll_ms / 1000))
    service.start()
    assert ours.recv() == "ready"
    began = time.monotonic() + 0.05
    for _, conn in writers:
        conn.send(began)
    outs = [conn.recv() for _, conn in writers]
    for process, _ in writers:
        process.join(30)
    appended_all = sum(out["events"] for out in outs)
    ours.send(appended_all)
    report = ours.recv()
    service.join(30)
    notes = [note for out in outs for note in out["notes"]]
    scheduled = sum(out["scheduled"] for out in outs)
    appended = sum(out["appended"] for out in outs)
    row: dict[str, Any] = {
        "recordings": n, "prefilled_events": prefilled, "build_and_prefill_s": round(prefill_s, 1),
        "offered_per_s": scheduled / args.seconds, "appended_per_s": appended / args.seconds,
        "append_slip_p99_ms": 1000 * percentile([r - due for _, due, r in notes], 0.99),
        "writer_cpu_us_per_event": 1e6 * sum(out["cpu_s"] for out in outs) / max(1, appended_all),
        "service_process_cpu_s": report["process_cpu_s"],
    }
    for name, held in report["held"].items():
        lags = [held.get(event_id, float("inf")) - returned for event_id, _, returned in notes]
        row[f"{name}_lag_p50_ms"] = 1000 * percentile(lags, 0.50)
        row[f"{name}_lag_p99_ms"] = 1000 * percentile(lags, 0.99)
        row[f"{name}_lag_max_ms"] = 1000 * max(lags, default=float("nan"))
        row[f"{name}_cpu_us_per_event"] = \
            1e6 * report["thread_cpu_s"][name] / max(1, appended_all)
        row[f"{name}_thread_cores"] = report["thread_cpu_s"][f"{name}_share"]
    row["keeps_rate"] = (appended >= 0.97 * scheduled and row["append_slip_p99_ms"] <= 1000)
    row["lag_p99_ms"] = max(row["status_lag_p99_ms"], row["callbacks_lag_p99_ms"])
    row["held"] = row["keeps_rate"] and row["lag_p99_ms"] <= args.lag_ms
    return row


class CountingLog:
    """The writer's log, counting the events appended through it (warm-up included)."""

    def __init__(self, log: Any) -> None:
        self.log, self.events, self._lock = log, 0, threading.Lock()

    def append(self, events: list[Event]) -> list[Event]:
        stored: list[Event] = self.log.append(events)
        with self._lock:
            self.events += len(events)
        return stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kafka", metavar="HOST:PORT", help="Kafka instead of embedded SQLite")
    parser.add_argument("--partitions", type=int, help="of each fresh Kafka topic (default: the "
                        "log's own default)")
    parser.add_argument("--quick", action="store_true", help="N = 100, 1000, 3000; 4 s windows")
    parser.add_argument("--steps", help="comma-separated N (default 10, 30, 100, ... 30000)")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured window per N")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--writer-processes", type=int, default=2,
                        help="processes appending (recorder hosts), each its own log instance")
    parser.add_argument("--writers", type=int, help="appending threads per process (default 2; "
                        "16 on Kafka, where an append waits a broker round trip)")
    parser.add_argument("--status-poll-ms", type=float, default=10.0)
    parser.add_argument("--lag-ms", type=float, default=200.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=Path("bench/out/fleet.json"))
    args = parser.parse_args()
    steps = tuple(int(s) for s in args.steps.split(",")) if args.steps else \
        QUICK_STEPS if args.quick else STEPS
    if args.quick:
        args.seconds, args.warmup = min(args.seconds, 4.0), min(args.warmup, 1.0)
    args.writers = args.writers or (16 if args.kafka else 2)
    rates = Rates()
    backend = "kafka" if args.kafka else "embedded"
    print(f"{backend} log; a recording appends {rates.per_minute():.1f} events/min "
          f"({rates.per_second():.3f}/s); {args.writer_processes} writer processes x "
          f"{args.writers} threads; "
          f"{args.seconds:g} s windows after {args.warmup:g} s", flush=True)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        def url(tag: str) -> str:
            if args.kafka:
                options = f"?partitions={args.partitions}" if args.partitions else ""
                return f"kafka://{args.kafka}/fleet-{uuid.uuid4().hex[:8]}-{tag}{options}"
            return f"sqlite:///{tmp}/{tag}.db"

        baseline_log = open_event_log(url("baseline"))
        try:  # one process's append rate, this run (bench/events.py's measure)
            baseline = appends_per_s(baseline_log, 2.0, writers=args.writers)
        finally:
            baseline_log.close()
        print(f"baseline: {baseline:,.0f} single-event appends/s, one process, "
              f"{args.writers} threads")
        print(f"{'N':>6}{'offered/s':>10}{'appended/s':>11}{'slip p99':>9}"
              f"{'status p50/p99 ms':>19}{'callbacks p50/p99 ms':>22}"
              f"{'us/ev st':>9}{'us/ev cb':>9}{'wr us/ev':>9}  verdict", flush=True)
        for n in steps:
            row = step(url(str(n)), n, rates, args)
            rows.append(row)
            verdict = "held" if row["held"] else \
                "writers behind" if not row["keeps_rate"] else "lag over bound"
            print(f"{n:>6}{row['offered_per_s']:>10,.0f}{row['appended_per_s']:>11,.0f}"
                  f"{row['append_slip_p99_ms']:>9.0f}"
                  f"{row['status_lag_p50_ms']:>10.1f}/{row['status_lag_p99_ms']:<8.1f}"
                  f"{row['callbacks_lag_p50_ms']:>13.1f}/{row['callbacks_lag_p99_ms']:<8.1f}"
                  f"{row['status_cpu_us_per_event']:>9.0f}{row['callbacks_cpu_us_per_event']:>9.0f}"
                  f"{row['writer_cpu_us_per_event']:>9.0f}  {verdict}", flush=True)
            if not row["held"]:
                break
    largest = rows[-1]["recordings"] if rows[-1]["held"] else \
        rows[-2]["recordings"] if len(rows) > 1 else 0  # the steps stop at the first miss
    print(f"largest N with both runners' lag p99 <= {args.lag_ms:g} ms and the rate kept: "
          f"{largest} recordings ({largest * rates.per_second():,.0f} events/s); "
          f"load average {os.getloadavg()[0]:.1f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "backend": backend, "rates": vars(rates) | {"per_second": rates.per_second()},
        "writer_processes": args.writer_processes, "writer_threads": args.writers,
        "baseline_appends_per_s": baseline, "largest": largest,
        "steps": rows}, indent=2, default=str))


if __name__ == "__main__":
    main()
