"""P2 on the real service, how many recordings keep real time there (P3, R7), and their memory.

Runs what `cloudrec serve` runs, in a temp dir: its own local Ray cluster (own RAY_TMPDIR), the
controller, channel, recorder and uploader actors, the embedded (SQLite) event log and the REST
API, and records synthetic publishers through it. Measured in one run:

  p2-default   one composite at the API's default canvas (4 users 640x360@15 -> 360x640@15,
               500 kbps, float layout)
  p2-720p30    one composite of 9 users 640x360@30 -> 1280x720@30, 2000 kbps, bestFit
  composites   more default-canvas composites at once (2, 4, ..., 20) until one does not keep
               real time: a slice later than one slice length, or a slice missing
  individual   more individual-mode users (audio + video each; 25 per channel and recorder)
               until the same happens
  r7           R7: 10 default-canvas composites and 100 individual users (4 recorders of 25)
               at once, every slice there and none later than one slice length

For each: CPU of every recorder and channel process (psutil, over a steady window after a
warm-up) in cores, i.e. CPU-seconds per second of real time; RSS of each at the window's end;
the machine's busy share; and the lateness of every slice whose end falls in the window: when
its `SliceWritten` reached the log (a watcher polls it every 50 ms) minus the slice's end
(start + duration), p50/p99/max. A recorder renders `jitter_ms` (300) behind the channel, so
lateness is never below that.

Then, in this process, the stage split of the two P2 jobs (`stages.split`: decode, composite,
mix, encode, mux, transport, event appends) and the `ffmpeg` CLI doing the same two jobs
(`stages.ffmpeg_cpu`), in CPU-seconds per second of media: the ratio recorder / ffmpeg is P2's
"at or below the ffmpeg CLI" (target <= 1.0).

Publishing is excluded from every figure: publishers are `bench/looped.py`'s pre-encoded packets
looped with later timestamps, pushed from one thread per channel in this process, so the
machine's cores go to the recorders (100 real-time x264 publishers would take both).

Run: .venv/bin/python bench/capacity.py [--quick]   (about 16 minutes; --quick about 4)
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from looped import Crowd, Looped, Period, periods
from stages import Canvas, ffmpeg_cpu, split
from watch import Processes, SliceWatch, percentiles

OUT = Path(__file__).resolve().parent / "out"
APPID = "c" * 32
SLICE_S = 4.0
DEFAULT = Canvas("p2-default", 4, 640, 360, 360, 640, 15, 500, 0)
HD = Canvas("p2-720p30", 9, 640, 360, 1280, 720, 30, 2000, 1)
USERS_PER_CHANNEL = 25
# R7 (targets.md): 10 default-canvas composites and 100 individual streams at once; a stream is
# counted as a user's audio + video (P3's per-user stream), so 100 users, 200 tracks
R7_COMPOSITES, R7_USERS, R7_STEP, R7_SLICE_S = 10, 100, "r7", 15.0
TARGETS = {"p2-default": 0.15, "p2-720p30": 0.75}  # cores per composite (targets.md P2)
# RSS targets, MB (targets.md states none; see bench/README.md, capacity): recorder by job
RSS_TARGET_MB = {"p2-720p30": 500, "individual": 250, "composite": 300, "channel": 150}


@dataclass
class Plan:
    window_s: float
    warmup_s: float
    composites: list[int]
    individual_users: list[int]
    media_s: float  # of the in-process stage split and the ffmpeg baseline
    r7_window_s: float  # R7's window: two or more 15 s slices of every stream end in it


PLANS = {"full": Plan(15.0, 5.0, [2, 4, 6, 8, 10, 12, 14, 16, 20], [50, 100, 200, 300, 400],
                     20.0, 48.0),
         "quick": Plan(8.0, 4.0, [4], [50], 10.0, 33.0)}


@dataclass
class Measured:
    name: str
    recordings: int
    users: int
    window_s: float
    recorder_cores: list[float]
    channel_cores: list[float]
    recorder_rss_mb: list[float]
    channel_rss_mb: list[float]
    machine_busy: float  # share of all cores, anyone's load included
    service_cores: float  # the whole service and its publishers (this process and its tree)
    lateness_ms: dict[str, float]
    slices: int
    slices_expected: int
    realtime: bool = field(default=False)


# -- the service ----------------------------------------------------------------------------------


class Service:
    """`cloudrec serve` in one process, on a fresh temp dir and a Ray cluster of its own."""

    def __init__(self, root: Path, slice_s: float = SLICE_S) -> None:
        self.slice_s = slice_s
        os.environ["RAY_TMPDIR"] = str(root / "ray")
        os.environ.pop("RAY_ADDRESS", None)
        os.environ["CLOUDREC_CHANNEL_GRACE_S"] = "120"  # channels bench-0, 1, ... serve every step
        from cloudrec.actors.session.supervisor import Quota
        from cloudrec.client import RecordingClient
        from cloudrec.runtime import RuntimeSettings, start_runtime
        from cloudrec.server import BackgroundServer, api_settings, parse_customer

        # logical CPUs: each recorder reserves its estimated share (cluster/options.py); the
        # point here is to find where the real cores run out, not the reservations
        self.runtime = start_runtime(RuntimeSettings(
            events_url=f"sqlite:///{root}/events.db", storage_url=f"file://{root}/recordings",
            workdir=root / "work", slice_seconds=slice_s, num_cpus=64, deliver_webhooks=False,
            quota=Quota(recordings_per_app=100, channels_per_app=100)))  # one app id records all
        secret = secrets.token_hex(8)
        settings = api_settings([parse_customer(f"bench:{secret}:{APPID}")], rate_limit=1000)
        self.server = BackgroundServer(self.runtime, settings).__enter__()
        self.client = RecordingClient(self.server.url, "bench", secret, APPID)
        self.watch = SliceWatch(root / "events.db")

    def channel(self, cname: str) -> Any:
        from cloudrec.actors.channel.handle import ChannelHandle

        return ChannelHandle(self.runtime.get_channel(APPID, cname))

    def start(self, cname: str, canvas: Canvas | None) -> tuple[str, str]:
        storage = {"vendor": 1, "region": 0, "bucket": "b", "accessKey": "local",
                   "secretKey": "local", "fileNamePrefix": ["bench"]}
        config: dict[str, Any] = {"streamTypes": 2, "channelType": 0}
        if canvas is None:
            config["subscribeUidGroup"] = 4  # 18-32 users
        elif (transcoding := canvas.transcoding()) is not None:
            config["transcodingConfig"] = transcoding
        body = {"recordingConfig": config, "storageConfig": storage}
        resource = self.client.acquire(cname, "999")
        mode = "mix" if canvas else "individual"
        return resource, self.client.start(resource, cname, "999", body, mode=mode)

    def stop(self, cname: str, resource: str, sid: str, mode: str) -> None:
        self.client.stop(resource, sid, cname, "999", mode=mode)

    def recorder_pid(self, sid: str) -> int:
        import ray

        return int(ray.get(self.runtime.controller.describe.remote(sid))["pid"])

    def close(self) -> None:
        import ray

        self.watch.close()
        self.client.close()
        self.server.__exit__(None, None, None)
        self.runtime.events.close()
        ray.shutdown()


def channel_pid(handle: Any) -> int:
    import ray

    return int(ray.get(handle.actor.__ray_call__.remote(lambda _: os.getpid())))


# -- one step: N recordings at once ---------------------------------------------------------------


Job = tuple[Canvas | None, list[Period]]  # one channel: a composite's canvas (None:
# individual mode) and the users it publishes


def measure(service: Service, name: str, jobs: list[Job], plan: Plan) -> Measured:
    """One recording per job, each on a channel of its own, all at once."""
    crowds, sessions = [], []
    try:
        for index, (canvas, users) in enumerate(jobs):
            cname = f"bench-{index}"  # reused: a step does not wait for new channel processes
            crowds.append(Crowd(service.channel(cname), [Looped(p) for p in users]))
            crowds[-1].start()
            sessions.append((cname, *service.start(cname, canvas), _mode(canvas)))
        recorders = wait_for_recorders(service, [sid for _, _, sid, _ in sessions])
        time.sleep(plan.warmup_s)
        processes = Processes(recorders, [channel_pid(c.channel) for c in crowds])
        began = time.time()
        time.sleep(plan.window_s)
        cores, rss, busy = processes.sample(), processes.rss_mb(), processes.machine_busy()
        service_cores = processes.service_cores()
        ended = time.time()
    finally:
        stop_all(service, sessions)
        for crowd in crowds:
            crowd.close()
    late = service.watch.lateness([sid for _, _, sid, _ in sessions], began, ended)
    streams = sum(1 if canvas else len(users) * 2 for canvas, users in jobs)
    result = Measured(name, len(sessions), sum(len(users) for _, users in jobs), plan.window_s,
                      cores["recorder"], cores["channel"], rss["recorder"], rss["channel"],
                      busy, service_cores, percentiles(late), len(late),
                      streams * int(plan.window_s // service.slice_s - 1))
    result.realtime = result.slices >= result.slices_expected and \
        result.lateness_ms["max"] <= service.slice_s * 1000
    return result


def _mode(canvas: Canvas | None) -> str:
    return "mix" if canvas else "individual"


def individual_jobs(crowd: Period, users: int) -> list[Job]:
    """`users` individual-mode users, USERS_PER_CHANNEL to a channel and its recorder."""
    everyone = [crowd.as_uid(1000 + i) for i in range(users)]
    return [(None, everyone[i:i + USERS_PER_CHANNEL])
            for i in range(0, users, USERS_PER_CHANNEL)]


def wait_for_recorders(service: Service, sids: list[str], timeout_s: float = 60.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while not all(pids := [service.recorder_pid(sid) for sid in sids]):
        if time.monotonic() > deadline:
            raise TimeoutError("recorders did not start")
        time.sleep(0.2)
    return pids


def stop_all(service: Service, sessions: list[tuple[str, str, str, str]]) -> None:
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda s: service.stop(*s), sessions))


# -- the run --------------------------------------------------------------------------------------


def run(plan: Plan, root: Path, only_r7: bool = False, r7: tuple[int, int] = (
        R7_COMPOSITES, R7_USERS)) -> dict[str, Any]:
    default_users, hd_users = periods(4, 640, 360, 15), periods(9, 640, 360, 30)
    crowd = periods(1, 320, 180, 15)[0]
    steps: list[Measured] = []
    if not only_r7:
        service = Service(root / "steps")
        try:
            steps += p2_and_capacity(service, plan, default_users, hd_users, crowd)
        finally:
            service.close()
    # R7 on the service's default slices (15 s), as a deployment runs: 4 s slices would make
    # the individual recorders close, hash, log and upload 50 files a second, not 13
    composites, users = r7
    say(f"R7: {composites} composites and {users} individual users at once, "
        f"{R7_SLICE_S:g} s slices ...")
    service = Service(root / "r7", slice_s=R7_SLICE_S)
    try:
        steps.append(measure(service, R7_STEP, [(DEFAULT, default_users)] * composites
                             + individual_jobs(crowd, users),
                             replace(plan, warmup_s=10.0, window_s=plan.r7_window_s)))
        report_step(steps[-1])
    finally:
        service.close()
    baseline = {}
    if not only_r7:
        say("stage split and the ffmpeg CLI, in this process ...")
        baseline = {c.name: {"stages": split(c, users, plan.media_s, root / f"split-{c.name}"),
                             "ffmpeg": ffmpeg_cpu(c, users, plan.media_s, root / f"ff-{c.name}")}
                    for c, users in ((DEFAULT, default_users), (HD, hd_users))}
    return {"slice_s": SLICE_S, "r7_slice_s": R7_SLICE_S, "plan": asdict(plan),
            "load": os.getloadavg(), "steps": [asdict(s) for s in steps], "jobs": baseline}


def p2_and_capacity(service: Service, plan: Plan, default_users: list[Period],
                    hd_users: list[Period], crowd: Period) -> list[Measured]:
    """One composite of each P2 kind, then more of each kind at once until one step is late."""
    say("service up; P2: one composite of each kind ...")
    steps = []
    for canvas, users in ((DEFAULT, default_users), (HD, hd_users)):
        steps.append(measure(service, canvas.name, [(canvas, users)], plan))
        report_step(steps[-1])
    for n in plan.composites:
        steps.append(measure(service, f"composites-{n}", [(DEFAULT, default_users)] * n, plan))
        report_step(steps[-1])
        if not steps[-1].realtime:
            break
    for n in plan.individual_users:
        steps.append(measure(service, f"individual-{n}", individual_jobs(crowd, n), plan))
        report_step(steps[-1])
        if not steps[-1].realtime:
            break
    return steps


def say(line: str) -> None:
    print(line, flush=True)


def report_step(m: Measured) -> None:
    per = sum(m.recorder_cores) / max(1, len(m.recorder_cores))
    say(f"  {m.name:<16} {m.recordings:>3} rec {m.users:>4} users  recorder {per:.3f} core each "
        f"(sum {sum(m.recorder_cores):.2f}), channels {sum(m.channel_cores):.2f}, service "
        f"{m.service_cores:.2f}, machine {100 * m.machine_busy:.0f}% busy; late p50/p99/max "
        f"{m.lateness_ms['p50']:.0f}/{m.lateness_ms['p99']:.0f}/{m.lateness_ms['max']:.0f} ms "
        f"({m.slices}/{m.slices_expected} slices) -> {'real time' if m.realtime else 'LATE'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter windows, fewer steps")
    parser.add_argument("--r7", action="store_true", help="only the R7 step")
    parser.add_argument("--r7-load", type=int, nargs=2, default=[R7_COMPOSITES, R7_USERS],
                        metavar=("COMPOSITES", "USERS"), help="the R7 step's recordings")
    parser.add_argument("--r7-window", type=float, help="the R7 step's window, seconds")
    parser.add_argument("--root", type=Path, help="work here and keep it (default: a temp dir)")
    args = parser.parse_args()
    plan = PLANS["quick" if args.quick else "full"]
    if args.r7_window:
        plan = replace(plan, r7_window_s=args.r7_window)
    out = args.root or OUT
    out.mkdir(parents=True, exist_ok=True)
    say(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="crcap-") as tmp:
        summary = run(plan, args.root or Path(tmp), only_r7=args.r7,
                      r7=(args.r7_load[0], args.r7_load[1]))
    from capacity_report import print_summary  # bench/: the tables

    print_summary(summary, TARGETS, RSS_TARGET_MB)
    written = out / ("capacity-r7.json" if args.r7 else "capacity.json")
    written.write_text(json.dumps(summary, indent=2) + "\n")
    say(f"\nwritten {written}")


if __name__ == "__main__":
    sys.exit(main())
