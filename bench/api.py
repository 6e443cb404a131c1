"""P7: "query p99 <= 20 ms at 200 requests/s from 50 concurrent clients while recordings run"
(shared/spec/targets.md), on the service's query path, or over HTTP (`--http`).

Service path (default), in one run, two ways:

  shared     today's `RecordingService.view`: concurrent readers share catch-ups of the status
             view (`SharedCatchUp`), each still seeing every append made before it asked.
  baseline   the same service with the pre-issue-14 read: every reader catches the view up
             itself, one at a time under one lock.

Both run against the embedded log with `--sessions` recordings "running": a writer thread
appends what they would (a slice every 15 s and a stream state change now and then per
recording, `--rate` events/s in total) while `--clients` threads each issue `query` for a
random session at an even share of `--rps`. Latency = the service's `query` call (catch-up,
fold, answer).

`--http` (bench/http_query.py, bench/http_server.py): the REST server in its own process,
started as `cloudrec serve` starts it (`cloudrec.server.serve`: uvicorn, the FastAPI app,
Basic auth, the per-app rate limit raised by `--rate-limit`, the operator's setting, since
the default 10 requests/s per app would answer 429), `query` from keep-alive HTTP clients:
first 1 client at `--baseline-rps`, then `--clients` at `--rps`, `--seconds` each.
Latency = request sent to response read, in the client process. Running recordings:

  (default)  the embedded log's `--sessions` sessions and writer as above, the server
             without Ray (`query` calls no actor);
  --ray      the whole `cloudrec serve`: its own local Ray cluster (RAY_TMPDIR in a temp
             dir), the controller, and `--recordings` real mix recordings (360x640@15 HLS,
             one synthetic publisher each) started over the API.

Run: .venv/bin/python bench/api.py [--clients 50] [--rps 200] [--seconds 20] [--sessions 100]
     .venv/bin/python bench/api.py --http [--ray --recordings 4]

Measured (2-core development machine, 2026-11-30), 20 s each, 1-minute load average in brackets:

  service path                      baseline p50 0.1 / p99 0.5 ms, shared p50 0.1 / p99 0.5 ms
  --http, embedded log (4.1-1.8)    1 client p50 2.2 / p99 3.0; 50 clients 202 req/s p50 1.6 /
                                    p99 4.4 / max 7.0 ms
  --http --ray, 4 recordings (6.6-4.1)  1 client p50 2.1 / p99 4.2; 50 clients 202 req/s p50
                                    1.9 / p99 5.8 / max 9.0 ms
  --http, Kafka (1.8-1.3)           1 client p50 3.6 / p99 5.9; 50 clients 202 req/s p50 3.1 /
                                    p99 10.6 / max 128 ms

P7 is met on both logs when the machine is quiet. With other work on it the 50-client p99
follows the load: embedded log 6-12 ms (load 2-7); with Ray and 4 recordings 10-50 ms (load
5-12) and 200 ms (load 24); Kafka, whose broker shares the 2 cores, 10-255 ms (load 3-8).
Before the Kafka fixes of issue 14 a `query` on Kafka took 100 ms at 1 client and never
answered at 50 (see README, P7).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import http_query  # bench/, run as scripts
import http_server
from sessions import APP, now_ms, open_sessions

from cloudrec.events.backends import open_event_log
from cloudrec.events.log import EventLog
from cloudrec.events.segment import SliceWritten, StreamStateChanged
from cloudrec.projections.runner import SharedCatchUp
from cloudrec.server import free_port
from cloudrec.service import RecordingService


def write(log: EventLog, sids: list[str], rate: float, stop: threading.Event) -> int:
    """What running recordings append: slices and stream state changes, `rate` per second."""
    written, index = 0, {sid: 0 for sid in sids}
    while not stop.is_set():
        sid = random.choice(sids)
        if random.random() < 0.5:
            event: Any = SliceWritten(stream_id=sid, at_ms=now_ms(), generation=1,
                                      key=f"{sid}_{index[sid]}.ts", index=index[sid],
                                      start_ms=now_ms(), duration_s=15.0, size=100_000)
            index[sid] += 1
        else:
            event = StreamStateChanged(stream_id=sid, at_ms=now_ms(), generation=1,
                                       track="audio", stream_uid="7",
                                       state=random.randint(0, 1), utc_ms=now_ms())
        log.append([event])
        written += 1
        time.sleep(1 / rate)
    return written


class SerialCatchUp:
    """The baseline: each reader catches the view up itself, one at a time."""

    def __init__(self, runner: Any) -> None:
        self.runner, self.lock = runner, threading.Lock()

    def catch_up(self) -> None:
        with self.lock:
            self.runner.catch_up()


def run(way: str, args: argparse.Namespace, folder: Path) -> dict[str, float]:
    url = f"sqlite:///{folder}/{way}.db"
    log = open_event_log(url)
    sids = open_sessions(log, args.sessions)
    service = RecordingService(log, controller=None, workdir=folder)  # type: ignore[arg-type]
    if way == "baseline":
        service.caught_up = SerialCatchUp(service.status_runner)  # type: ignore[assignment]
    else:
        service.caught_up = SharedCatchUp(service.status_runner)
    service.view(sids[0])  # the fold of the history, before timing
    stop = threading.Event()
    writer = threading.Thread(target=write, args=(log, sids, args.rate, stop), daemon=True)
    writer.start()
    latencies: list[float] = []
    lock = threading.Lock()
    interval = args.clients / args.rps  # each client's share of the request rate
    deadline = time.monotonic() + args.seconds

    def client() -> None:
        mine: list[float] = []
        next_at = time.monotonic() + random.random() * interval
        while (at := time.monotonic()) < deadline:
            if at < next_at:
                time.sleep(next_at - at)
            sid = random.choice(sids)
            began = time.perf_counter()
            answer = service.query(APP, sid, f"r-{sid}", "mix")
            mine.append((time.perf_counter() - began) * 1000)
            assert answer["status"] >= 4
            next_at += interval
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    writer.join()
    log.close()
    return summary(latencies, args.seconds)


def summary(latencies: list[float], seconds: float) -> dict[str, float]:
    latencies = sorted(latencies)
    return {"requests": len(latencies), "rps": len(latencies) / seconds,
            "p50": statistics.median(latencies),
            "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)], "max": latencies[-1]}


def run_http(args: argparse.Namespace, folder: Path) -> dict[str, dict[str, float]]:
    """Over HTTP (bench/http_query.py): 1 client at --baseline-rps, then --clients at --rps."""
    events = args.events or f"sqlite:///{folder}/events.db"
    log = open_event_log(events)
    sessions = [] if args.ray else http_query.open_sessions(log, args.sessions)
    server = http_query.Server(folder, args.port or free_port(), args.rate_limit,
                               args.recordings if args.ray else 0, events)
    stop, results = threading.Event(), {}
    try:
        server.wait_ready()
        sessions = server.sessions() if args.ray else sessions
        if not args.ray:  # the log-only server: this writer stands for the recorders
            threading.Thread(target=write, args=(log, [s for s, _ in sessions], args.rate, stop),
                             daemon=True).start()
        http_query.drive(server.port, sessions, 4, 40, 3)  # warm up
        for name, clients, rps in (("1 client", 1, args.baseline_rps),
                                   (f"{args.clients} clients", args.clients, args.rps)):
            latencies = http_query.drive(server.port, sessions, clients, rps, args.seconds)
            results[name] = summary(latencies, args.seconds)
    finally:
        stop.set()
        server.stop()
    log.close()
    return results


def report(title: str, results: dict[str, dict[str, float]]) -> None:
    print(title)  # noqa: T201
    print("| run | requests/s | p50 ms | p99 ms | max ms |")  # noqa: T201
    print("|---|---|---|---|---|")  # noqa: T201
    for way, r in results.items():
        print(f"| {way} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} |")  # noqa: T201


def serve(args: argparse.Namespace) -> None:
    folder = Path(args.serve)
    if args.recordings:
        http_server.serve_with_ray(folder, args.events, args.port, args.rate_limit,
                                   http_query.CUSTOMER, args.recordings)
    else:
        http_server.serve_log_only(args.events, args.port, args.rate_limit, http_query.CUSTOMER)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--http", action="store_true", help="over HTTP (bench/http_query.py)")
    parser.add_argument("--baseline-rps", type=float, default=50.0, help="--http: 1 client's")
    parser.add_argument("--rate-limit", type=float, default=100_000.0,
                        help="--http: the server's requests/s per app (cloudrec serve's)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ray", action="store_true",
                        help="--http: cloudrec serve with Ray and --recordings real recordings")
    parser.add_argument("--recordings", type=int, default=4)
    parser.add_argument("--events", default=None,
                        help="--http: the event log URL (default: SQLite in a temp dir; for "
                             "kafka://HOST:PORT/TOPIC give a fresh topic)")
    parser.add_argument("--serve", metavar="DIR", help=argparse.SUPPRESS)  # the server process
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rps", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50.0, help="events/s the recordings write")
    args = parser.parse_args()
    if args.serve:
        return serve(args)
    if args.http:
        with tempfile.TemporaryDirectory() as folder:
            results = run_http(args, Path(folder))
        running = (f"{args.recordings} real recordings (Ray)" if args.ray else
                   f"{args.sessions} recordings writing {args.rate:g} events/s")
        where = (args.events or "embedded").split("://")[0]
        report(f"query over HTTP, {running}, {where} log, {args.seconds:g} s each", results)
        met = results[f"{args.clients} clients"]["p99"] <= 20
        print(f"target p99 <= 20 ms: {'met' if met else 'missed'}")  # noqa: T201
        return None
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for way in ("baseline", "shared"):
            results[way] = run(way, args, Path(folder))
    print(f"query, {args.clients} clients at {args.rps:g} req/s, {args.sessions} recordings "  # noqa: T201
          f"writing {args.rate:g} events/s, embedded log, {args.seconds:g} s each")
    print("| way | requests/s | p50 ms | p99 ms | max ms |")  # noqa: T201
    print("|---|---|---|---|---|")  # noqa: T201
    for way, r in results.items():
        print(f"| {way} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} |")  # noqa: T201
    base, shared = results["baseline"], results["shared"]
    print(f"p99 baseline/shared: {base['p99'] / shared['p99']:.1f}x; target p99 <= 20 ms: "  # noqa: T201
          f"{'met' if shared['p99'] <= 20 else 'missed'}")


if __name__ == "__main__":
    main()
