"""What `bench/capacity.py` watches while recordings run: slices reaching the log, processes' CPU.

`SliceWatch` reads the embedded event log from its own thread and connection, every 50 ms, and
notes when each `SliceWritten` appeared: the slice's lateness is that moment minus the slice's
end (its `at_ms` is media time, the slice's end, not the time it was written). `Processes`
reads recorder and channel processes' CPU time and RSS with psutil.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path

import psutil  # type: ignore[import-untyped]

from cloudrec.events.embedded import EmbeddedEventLog
from cloudrec.events.segment import SliceWritten

POLL_S = 0.05


class SliceWatch:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: dict[str, list[tuple[float, float]]] = defaultdict(list)  # sid -> (seen, end)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        log, position = EmbeddedEventLog(self.path), 0
        while not self.stopping.wait(POLL_S):
            read = log.read_all(after=position, limit=5000)
            position = read[-1][0] if read else position
            for _, event in read:
                if isinstance(event, SliceWritten):
                    end_ms = event.start_ms + event.duration_s * 1000
                    self.seen[event.stream_id].append((time.time() * 1000, end_ms))
        log.close()

    def lateness(self, sids: list[str], began_s: float, ended_s: float) -> list[float]:
        """Milliseconds from each slice's end to its event in the log, for the slices of
        `sids` that end within the window."""
        return [seen - end for sid in sids for seen, end in list(self.seen[sid])
                if began_s * 1000 <= end <= ended_s * 1000]

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    ordered = sorted(values)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50": at(0.50), "p99": at(0.99), "max": ordered[-1]}


class Processes:
    """CPU time of recorders and channels from now on; RSS when asked."""

    def __init__(self, recorders: list[int], channels: list[int]) -> None:
        self.kinds = {"recorder": [psutil.Process(p) for p in recorders],
                      "channel": [psutil.Process(p) for p in channels]}
        self.began = time.monotonic()
        self.cpu0 = {kind: [_cpu_s(p) for p in ps] for kind, ps in self.kinds.items()}
        self.machine0 = psutil.cpu_times()
        me = psutil.Process()
        self.tree = {p.pid: (p, _cpu_s(p)) for p in [me, *me.children(recursive=True)]}

    def sample(self) -> dict[str, list[float]]:
        """Cores each process used since construction (CPU-seconds per second)."""
        elapsed = time.monotonic() - self.began
        return {kind: [(_cpu_s(p) - c0) / elapsed for p, c0 in zip(ps, self.cpu0[kind],
                                                                    strict=True)]
                for kind, ps in self.kinds.items()}

    def service_cores(self) -> float:
        """Cores used by this process and every process under it (Ray's raylet and GCS, every
        actor, the API and the publishers' threads) since construction."""
        elapsed, used = time.monotonic() - self.began, 0.0
        for process, cpu0 in self.tree.values():
            try:
                used += _cpu_s(process) - cpu0
            except psutil.NoSuchProcess:
                continue
        return used / elapsed

    def rss_mb(self) -> dict[str, list[float]]:
        return {kind: [p.memory_info().rss / 2**20 for p in ps] for kind, ps in self.kinds.items()}

    def machine_busy(self) -> float:
        """Share of the machine's cores busy since construction (everyone's processes)."""
        now = psutil.cpu_times()
        idle = (now.idle + now.iowait) - (self.machine0.idle + self.machine0.iowait)
        total = sum(now) - sum(self.machine0)
        return 1.0 - idle / total if total else 0.0


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)
