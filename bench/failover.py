"""R1 / P4: recorder failover and start latency, on a real local Ray cluster, in one run.

start      `start` answered over HTTP (acquire excluded): the first on a freshly started
           server (cold), then `--starts` more (warm), `--spacing` s apart, each stopped at
           once; and from the answer to the recorder's RecorderLaunched (it records).
failover   one mix recording (2 synthetic users, HLS 4 s slices) whose recorder process is
           SIGKILLed `--kills` times (the 4th failure would end it, so at most 3 per
           recording: more kills use more recordings). Per kill: kill -> RecorderFailed in
           the log (detection), kill -> the new generation joined and pulling packets, and
           the media gap at that cut measured from the decoded slices (the next slice's first
           video pts minus the last one before the cut). Agora moves a recording within
           about 90 s; the ratio is printed against that.

Run: .venv/bin/python bench/failover.py [--kills 6] [--starts 20] [--spacing 4] [--events URL]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import ray

from cloudrec import scenario
from cloudrec.client import RecordingClient
from cloudrec.cluster.options import CONTROLLER, NAMESPACE
from cloudrec.events.recording import RecorderFailed, RecorderLaunched
from cloudrec.events.segment import SliceWritten
from cloudrec.runtime import RuntimeSettings, start_runtime
from cloudrec.server import BackgroundServer, api_settings, parse_customer

AGORA_FAILOVER_S = 90.0
APP, SECRET = "f" * 32, "bench-secret"


def wait_for(check: Any, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.02)
    raise TimeoutError("benchmark step timed out")


def timed_start(client: RecordingClient, cname: str) -> tuple[str, str, float]:
    plan = scenario.Scenario(APP, cname=cname, prefix=("bench",))
    resource = client.acquire(cname, plan.recorder_uid)
    began = time.perf_counter()
    sid = client.start(resource, cname, plan.recorder_uid, plan.start_request())
    return resource, sid, time.perf_counter() - began


def launched_after(events: Any, sid: str, answered_ms: float) -> float:
    launched = wait_for(lambda: [e for e in events.read_stream(sid)
                                 if isinstance(e, RecorderLaunched)])
    return (launched[0].at_ms - answered_ms) / 1000


def measure_starts(runtime: Any, client: RecordingClient, count: int,
                   spacing_s: float) -> dict[str, Any]:
    rows = []
    for n in range(count + 1):
        time.sleep(spacing_s if n else 0.0)
        cname = f"start{n}"
        channel = runtime.get_channel(APP, cname)  # as when publishers are in the channel
        ray.get(channel.list_members.remote())
        resource, sid, seconds = timed_start(client, cname)
        answered_ms = time.time() * 1000
        rows.append((seconds, launched_after(runtime.events, sid, answered_ms)))
        _stop_quietly(client, resource, sid, cname)
    cold, warm = rows[0], rows[1:]
    return {"cold_s": cold[0], "cold_recording_s": cold[1],
            "warm_p50_s": statistics.median(r[0] for r in warm),
            "warm_max_s": max(r[0] for r in warm),
            "recording_after_start_p50_s": statistics.median(r[1] for r in rows),
            "recording_after_start_max_s": max(r[1] for r in rows)}


def _stop_quietly(client: RecordingClient, resource: str, sid: str, cname: str) -> None:
    try:
        client.stop(resource, sid, cname, "900001")
    except Exception:  # 435 when nobody published: the session ends all the same
        pass


def recorder_pid(sid: str, generation: int) -> int:
    controller = ray.get_actor(CONTROLLER, namespace=NAMESPACE)

    def running() -> int:
        info = ray.get(controller.describe.remote(sid))
        return int(info["pid"]) if info["generation"] == generation else 0
    return int(wait_for(running))


def first_video_pts(path: Path) -> tuple[float, float]:
    with av.open(str(path)) as container:
        times = [float(p.pts * p.time_base) for p in container.demux(video=0)
                 if p.pts is not None]
    return min(times), max(times)


def kill_cycle(runtime: Any, client: RecordingClient, kills: int, storage: Path,
               cname: str) -> list[dict[str, float]]:
    plan = scenario.Scenario(APP, cname=cname, users=(1001, 1002), prefix=("bench",))
    live = scenario.LiveChannel(runtime, plan)
    for uid in plan.users:
        live.join(uid)
    live.wait_present(list(plan.users))
    resource = client.acquire(cname, plan.recorder_uid)
    sid = client.start(resource, cname, plan.recorder_uid, plan.start_request())
    rows = []
    try:
        for generation in range(1, kills + 1):
            wait_for(lambda g=generation: any(e.generation == g for e in runtime.events
                                              .read_stream(sid) if isinstance(e, SliceWritten)))
            pid = recorder_pid(sid, generation)
            killed = time.time() * 1000
            os.kill(pid, signal.SIGKILL)
            recorder_pid(sid, generation + 1)
            events = runtime.events.read_stream(sid)
            failed = [e for e in events if isinstance(e, RecorderFailed)][-1]
            joined = [e for e in events if isinstance(e, RecorderLaunched)][-1]
            rows.append({"detected_s": (failed.at_ms - killed) / 1000,
                         "joined_s": (joined.at_ms - killed) / 1000})
        wait_for(lambda: any(e.generation == kills + 1 for e in runtime.events.read_stream(sid)
                             if isinstance(e, SliceWritten)))
        client.stop(resource, sid, cname, plan.recorder_uid)
    finally:
        live.close()
    for row, gap in zip(rows, cut_gaps(storage / "bench" / f"{sid}_{cname}.m3u8"), strict=True):
        row["gap_s"] = gap
    return rows


def cut_gaps(playlist: Path) -> list[float]:
    gaps, previous, cut = [], None, False
    for line in playlist.read_text().splitlines():
        if line == "#EXT-X-DISCONTINUITY":
            cut = previous is not None
        elif line and not line.startswith("#"):
            span = first_video_pts(playlist.parent / line)
            if cut and previous is not None:
                gaps.append(span[0] - previous[1] - 1 / 15)
            previous, cut = span, False
    return gaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--spacing", type=float, default=4.0,
                        help="seconds between starts (the warm pool refills meanwhile)")
    parser.add_argument("--events", default=None, help="event log URL (default: a temp SQLite)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="cloudrec-failover-"))
    settings = RuntimeSettings(events_url=args.events or f"sqlite:///{root}/events.db",
                               storage_url=f"file://{root}/recordings", workdir=root / "work",
                               slice_seconds=4.0)
    booted = time.perf_counter()
    runtime = start_runtime(settings)
    print(f"server ready in {time.perf_counter() - booted:.1f} s (Ray, controller, warm spare)")
    customers = [parse_customer(f"bench:{SECRET}:{APP}")]
    with BackgroundServer(runtime, api_settings(customers, rate_limit=100)) as server:
        client = RecordingClient(server.url, "bench", SECRET, APP)
        starts = measure_starts(runtime, client, args.starts, args.spacing)
        rows: list[dict[str, float]] = []
        for n in range(0, args.kills, 3):
            rows += kill_cycle(runtime, client, min(3, args.kills - n), root / "recordings",
                               f"kill{n}")
        client.close()
    report(starts, rows)
    ray.shutdown()


def report(starts: dict[str, Any], rows: list[dict[str, float]]) -> None:
    print("\nstart latency (HTTP start answered; target p99 <= 1 s)")
    print(f"  cold (first after boot) {starts['cold_s'] * 1000:7.1f} ms")
    print(f"  warm median             {starts['warm_p50_s'] * 1000:7.1f} ms")
    print(f"  warm worst              {starts['warm_max_s'] * 1000:7.1f} ms")
    print(f"  start answered -> recorder joined: median "
          f"{starts['recording_after_start_p50_s']:.2f} s, worst "
          f"{starts['recording_after_start_max_s']:.2f} s")
    if not rows:
        return
    print(f"\nfailover, {len(rows)} kills (SIGKILL of the recorder process)")
    print("  kill  detected_s  joined_s  gap_s")
    for n, row in enumerate(rows, 1):
        print(f"  {n:4d}  {row['detected_s']:10.2f}  {row['joined_s']:8.2f}  {row['gap_s']:5.2f}")
    for name in ("detected_s", "joined_s", "gap_s"):
        values = [row[name] for row in rows]
        print(f"  {name:10s} median {statistics.median(values):6.2f}  worst {max(values):6.2f}")
    worst = max(row["joined_s"] for row in rows)
    gap = max(r["gap_s"] for r in rows)
    print(f"\nrecording moved in at most {worst:.1f} s: {AGORA_FAILOVER_S / worst:.0f}x faster "
          f"than Agora's ~{AGORA_FAILOVER_S:.0f} s; worst media gap {gap:.2f} s (target <= 3 s)")


if __name__ == "__main__":
    main()
