"""P6: "callback delivered p99 <= 500 ms after its event" (shared/spec/targets.md).

  steady    `--sessions` recording sessions of one app produce callbacks (stream state changes,
            one notification each) at `--rate` per second in total for `--seconds`, appended to
            the log by `--writers` threads as a running cluster would. The deliverer follows the
            log and POSTs each notification, signed, to a receiver on 127.0.0.1. Latency = the
            receiver's arrival time - the event's time (`sendts`), so it covers the log append,
            the follower, the lane, HTTP and the receiver.
  burst     the same sessions each append 10 notifications at once: the deliverer's throughput
            when it has a backlog.
  baseline  the same receiver, POSTed to directly (one httpx client, one request at a time):
            the round trip no deliverer can beat, measured in the same run.

The deliverer runs here, as in `cloudrec serve`; the sessions' events are appended by another
process (as recorders and uploaders do), and the receiver (`cloudrec.webhooks.receiver`, which
checks both signatures) runs in a process of its own, as a customer's server would.

Run: .venv/bin/python bench/callbacks.py [--kafka 127.0.0.1:9092] [--rate 200] [--sessions 300]
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sessions import APP, now_ms, open_sessions  # bench/, run as scripts

from cloudrec.events.backends import open_event_log
from cloudrec.events.log import EventLog
from cloudrec.events.segment import StreamStateChanged
from cloudrec.webhooks.config import WebhookSettings, parse_flag
from cloudrec.webhooks.deliverer import start_deliverer
from cloudrec.webhooks.envelope import body, headers
from cloudrec.webhooks.receiver import Receiver

SECRET, TARGET_MS = "bench-secret", 500.0


def state_changed(sid: str, n: int) -> StreamStateChanged:
    at = now_ms()
    return StreamStateChanged(stream_id=sid, at_ms=at, generation=1, track="audio",
                              stream_uid=str(1000 + n), state=n % 2, utc_ms=at)


def steady(log: EventLog, sids: list[str], rate: float, seconds: float, writers: int) -> int:
    """Append one notification-making event at a time, `rate` per second in all."""
    per_writer, counts = rate / writers, [0] * writers
    began = time.monotonic()

    def write(w: int) -> None:
        mine = sids[w::writers]
        while (due := began + counts[w] / per_writer) < began + seconds:
            time.sleep(max(0.0, due - time.monotonic()))
            log.append([state_changed(mine[counts[w] % len(mine)], counts[w])])
            counts[w] += 1

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts)


def burst(log: EventLog, sids: list[str], each: int = 10) -> int:
    for sid in sids:
        log.append([state_changed(sid, n) for n in range(each)])
    return len(sids) * each


Arrival = tuple[int, int, bool]  # (sendts, arrived_ms, signed)


def _serve(conn: Any, secret: str) -> None:
    receiver = Receiver(secret).start()
    conn.send(receiver.url)
    while (command := conn.recv()) != "stop":
        if command == "count":
            conn.send(len(receiver.received))
            continue
        conn.send([(r.notice["payload"]["sendts"], r.arrived_ms, r.signed)
                   for r in receiver.got()[command:]])
    receiver.stop()


def _produce(conn: Any, url: str, sids: list[str], rate: float, seconds: float,
             writers: int) -> None:
    log = open_event_log(url)
    try:
        conn.send(steady(log, sids, rate, seconds, writers) if rate else burst(log, sids))
    finally:
        log.close()


def produce(url: str, sids: list[str], rate: float = 0.0, seconds: float = 0.0,
            writers: int = 1) -> int:
    """Append in another process: `rate` per second for `seconds`, or (rate 0) a burst."""
    conn, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_produce, args=(child, url, sids, rate, seconds, writers), daemon=True)
    process.start()
    sent: int = conn.recv()
    process.join(30)
    return sent


class RemoteReceiver:
    """A `Receiver` in a child process."""

    def __init__(self, secret: str) -> None:
        self.conn, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(child, secret), daemon=True)
        self.process.start()
        self.url: str = self.conn.recv()

    def since(self, index: int) -> list[Arrival]:
        self.conn.send(index)
        arrivals: list[Arrival] = self.conn.recv()
        return arrivals

    def count(self) -> int:
        self.conn.send("count")
        count: int = self.conn.recv()
        return count

    def wait_for(self, count: int, timeout_s: float) -> list[Arrival]:
        deadline = time.monotonic() + timeout_s
        while (got := self.count()) < count:
            if time.monotonic() >= deadline:
                raise AssertionError(f"{got} of {count} callbacks arrived")
            time.sleep(0.1)
        return self.since(0)

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(10)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def baseline(receiver: RemoteReceiver, count: int = 500) -> list[float]:
    notice = {"noticeId": "x", "eventType": 43, "sid": "baseline",
              "payload": {"sequence": 0, "sendts": 0}}
    times = []
    with httpx.Client(trust_env=False) as client:
        for _ in range(count):
            content = body(notice, now_ms())
            began = time.perf_counter()
            client.post(receiver.url, content=content, headers=headers(content, SECRET))
            times.append((time.perf_counter() - began) * 1000)
    return times


def report(name: str, latencies: list[float], count: int, span_s: float) -> None:
    print(f"  {name:<9} {count:6d} callbacks  {count / span_s:7.0f}/s delivered   latency ms "
          f"p50 {percentile(latencies, 50):6.1f}  p90 {percentile(latencies, 90):6.1f}  "
          f"p99 {percentile(latencies, 99):6.1f}  max {max(latencies):6.1f}")


def latencies(arrivals: list[Arrival]) -> list[float]:
    assert all(signed for _, _, signed in arrivals), "a signature did not verify"
    return [float(arrived - sent) for sent, arrived, _ in arrivals]


def span_s(arrivals: list[Arrival]) -> float:
    """From the first event to the last arrival."""
    return (max(a for _, a, _ in arrivals) - min(s for s, _, _ in arrivals)) / 1000


def measure(url: str, args: argparse.Namespace, state: Path) -> None:
    print(f"\nevent log {url.split(':')[0]}: {args.sessions} sessions, "
          f"{args.rate:.0f} callbacks/s for {args.seconds:.0f} s, {args.writers} writers")
    receiver = RemoteReceiver(SECRET)
    log = open_event_log(url)
    hooks = WebhookSettings({APP: parse_flag(f"{APP}={receiver.url},secret={SECRET}")})
    deliverer = start_deliverer(log, url, hooks, state, group=f"bench-{uuid.uuid4().hex[:8]}")
    try:
        sids = open_sessions(log, args.sessions)
        base = len(receiver.wait_for(len(sids), 60))  # recorder_started of each
        sent = produce(url, sids, args.rate, args.seconds, args.writers)
        got = receiver.wait_for(base + sent, 120)[base:]
        steady_ms = latencies(got)
        report("steady", steady_ms, sent, span_s(got))
        base = base + sent
        sent = produce(url, sids)
        got = receiver.wait_for(base + sent, 120)[base:]
        report("burst", latencies(got), sent, span_s(got))
        times = baseline(receiver)
        print(f"  baseline  direct POST round trip ms p50 {percentile(times, 50):.1f}  "
              f"p99 {percentile(times, 99):.1f}")
        p99 = percentile(steady_ms, 99)
        print(f"  P6 steady p99 {p99:.0f} ms <= {TARGET_MS:.0f} ms: "
              f"{'PASS' if p99 <= TARGET_MS else 'MISS'}")
    finally:
        deliverer.stop()
        receiver.stop()
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--kafka", default=None, help="also on this broker (HOST:PORT)")
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--rate", type=float, default=200.0, help="callbacks per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--writers", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure(f"sqlite:///{tmp}/events.db", args, Path(tmp) / "embedded.db")
        if args.kafka:
            measure(f"kafka://{args.kafka}/bench-{uuid.uuid4().hex[:8]}", args,
                    Path(tmp) / "kafka.db")


if __name__ == "__main__":
    main()
