"""A Ray head node of its own, as `ray start --head` makes one, and its clean stop.

`ray stop` would stop every Ray cluster on the machine (other test runs' included), so a head
started here is stopped by PID: every process whose command line names its temp directory,
and everything those processes started. Ray 2.60 turns token authentication on for such a
head; drivers join it through `cloudrec.cluster.connect`.

    python -m cloudrec.cluster.head up --temp-dir /tmp/cloudrec-ray --port 6390
    python -m cloudrec.cluster.head down --temp-dir /tmp/cloudrec-ray
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped]


@dataclass(frozen=True)
class Head:
    temp_dir: Path
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def processes(self) -> list[psutil.Process]:
        """The head's processes and all their descendants."""
        marker = str(self.temp_dir)
        me = psutil.Process()
        spared = {me.pid, *(p.pid for p in me.parents())}  # `down --temp-dir` names it too
        roots = []
        for process in psutil.process_iter(["cmdline"]):
            try:
                if process.pid not in spared and any(
                        marker in part for part in process.info["cmdline"] or ()):
                    roots.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        found = {p.pid: p for p in roots}
        for root in roots:
            try:
                found.update((c.pid, c) for c in root.children(recursive=True))
            except psutil.NoSuchProcess:
                continue
        return list(found.values())

    def node_id(self) -> str:
        """The node's id, as Ray names it (from its raylet's command line)."""
        for process in _alive(self.processes()):
            for part in process.cmdline():
                if part.startswith("--node_id="):
                    return str(part).removeprefix("--node_id=")
        raise LookupError(f"no raylet of {self.temp_dir} runs")

    def kill_raylet(self) -> None:
        """The node is lost: SIGKILL its raylet (its workers end with it)."""
        for process in _alive(self.processes()):
            if "raylet/raylet" in " ".join(process.cmdline()):
                process.kill()

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL what is left: every process of this head, no other."""
        processes = self.processes()
        for process in processes:
            try:
                process.terminate()
            except psutil.NoSuchProcess:
                continue
        _, alive = psutil.wait_procs(processes, timeout=timeout_s)
        for process in alive:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                continue
        psutil.wait_procs(alive, timeout=timeout_s)


def start_head(temp_dir: Path, port: int, num_cpus: int = 2,
               env: dict[str, str] | None = None, timeout_s: float = 120.0,
               dashboard_port: int | None = None,
               resources: dict[str, float] | None = None) -> Head:
    """`ray start --head` with its own temp directory and port; returns once it answers.
    With `dashboard_port`, the dashboard (and so `ray job submit`) listens there."""
    command = ["--head", f"--port={port}"]
    if dashboard_port is None:
        command.append("--include-dashboard=false")
    else:
        command += ["--include-dashboard=true", "--dashboard-host=127.0.0.1",
                    f"--dashboard-port={dashboard_port}"]
    return _ray_start(Head(temp_dir, port), command, num_cpus, resources, env, timeout_s)


def join_node(head_address: str, temp_dir: Path, num_cpus: int = 1,
              resources: dict[str, float] | None = None, env: dict[str, str] | None = None,
              timeout_s: float = 120.0) -> Head:
    """Another node of the cluster at `head_address` (`ray start --address`), on this machine,
    with its own temp directory: stopping it (or SIGKILLing its raylet) loses that node."""
    environment = {**(env or {}), "RAY_AUTH_MODE": "token"}  # a node presents the head's token
    return _ray_start(Head(temp_dir, 0), [f"--address={head_address}"], num_cpus, resources,
                      environment, timeout_s)


def _ray_start(node: Head, command: list[str], num_cpus: int,
               resources: dict[str, float] | None, env: dict[str, str] | None,
               timeout_s: float) -> Head:
    temp_dir = node.temp_dir
    temp_dir.mkdir(parents=True, exist_ok=True)
    ray = shutil.which("ray", path=os.path.dirname(sys.executable)) or "ray"
    # each node's agent on ports of its own: the defaults (52365 for the agent that takes
    # `ray job submit`) are taken by any other Ray cluster on the machine, and an agent that
    # cannot bind leaves the head with "No available agent to submit job"
    command = [ray, "start", *command, f"--num-cpus={num_cpus}", f"--temp-dir={temp_dir}",
               "--disable-usage-stats", f"--dashboard-agent-listen-port={_free_port()}",
               f"--dashboard-agent-grpc-port={_free_port()}"]
    if resources:
        command.append(f"--resources={json.dumps(resources)}")
    environment = {**os.environ, **(env or {}), "RAY_TMPDIR": str(temp_dir)}
    head = node
    done = subprocess.run(command, env=environment, capture_output=True, text=True,
                          timeout=timeout_s)
    if done.returncode != 0:
        head.stop()
        raise RuntimeError(f"{' '.join(command[1:3])} failed: {done.stderr[-2000:]}")
    deadline = time.monotonic() + timeout_s
    while not any("raylet" in " ".join(p.cmdline()) for p in _alive(head.processes())):
        if time.monotonic() > deadline:
            head.stop()
            raise RuntimeError("the node's raylet did not come up")
        time.sleep(0.2)
    return head


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for process in processes:
        try:
            process.cmdline()
            alive.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return alive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cloudrec.cluster.head")
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--temp-dir", type=Path, default=Path("/tmp/cloudrec-ray"))
    parser.add_argument("--port", type=int, default=6390)
    parser.add_argument("--num-cpus", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--dashboard-port", type=int, default=None,
                        help="start the dashboard there (needed by `ray job submit`)")
    args = parser.parse_args(argv)
    if args.action == "up":
        head = start_head(args.temp_dir.resolve(), args.port, args.num_cpus,
                          dashboard_port=args.dashboard_port)
        print(f"ray head at {head.address} (temp dir {head.temp_dir})")  # noqa: T201
    else:
        Head(args.temp_dir.resolve(), args.port).stop()
        print("ray head stopped")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
