"""The tables `bench/capacity.py` prints from its summary (the same dict goes to JSON)."""

from __future__ import annotations

from typing import Any

from stages import STAGES


def print_summary(s: dict[str, Any], targets: dict[str, float],
                  rss_targets: dict[str, float]) -> None:
    steps = {step["name"]: step for step in s["steps"]}
    load = " ".join(f"{x:.2f}" for x in s["load"])
    print(f"\nCapacity on the service ({s['plan']['window_s']:g} s windows, {s['slice_s']:g} s "
          f"slices; load average at the end {load})")
    print(f"{'step':<16} {'rec':>4} {'users':>5} {'core/rec':>9} {'core/chan':>9} "
          f"{'service':>8} {'machine':>8} {'late p50':>9} {'p99':>6} {'max':>6} "
          f"{'slices':>8}  verdict")
    for step in s["steps"]:
        print_step(step)
    print_capacity(s["steps"])
    print_p2(steps, s["jobs"], targets)
    print_stages(steps, s["jobs"])
    print_memory(s["steps"], rss_targets)


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def print_step(step: dict[str, Any]) -> None:
    late = step["lateness_ms"]
    print(f"{step['name']:<16} {step['recordings']:>4} {step['users']:>5} "
          f"{mean(step['recorder_cores']):>9.3f} {mean(step['channel_cores']):>9.3f} "
          f"{step['service_cores']:>8.2f} {100 * step['machine_busy']:>7.0f}% "
          f"{late['p50']:>9.0f} {late['p99']:>6.0f} {late['max']:>6.0f} "
          f"{step['slices']:>4}/{step['slices_expected']:<3}  "
          f"{'real time' if step['realtime'] else 'LATE'}")


def print_capacity(steps: list[dict[str, Any]]) -> None:
    for kind, unit in (("composites-", "default-canvas composites"),
                       ("individual-", "individual users (x2 tracks)")):
        ran = [s for s in steps if s["name"].startswith(kind)]
        kept = [s["recordings"] if kind == "composites-" else s["users"]
                for s in ran if s["realtime"]]
        tried = [s["recordings"] if kind == "composites-" else s["users"] for s in ran]
        print(f"largest real-time step, {unit}: {max(kept) if kept else 'none'} "
              f"(tried {tried})")
    for step in steps:
        if step["name"] == "r7":
            print(f"R7, {step['recordings']} recordings and {step['users']} users at once "
                  f"({step['window_s']:g} s window, 15 s slices): "
                  f"{'PASS (real time)' if step['realtime'] else 'MISS (late)'}")


def print_p2(steps: dict[str, Any], jobs: dict[str, Any], targets: dict[str, float]) -> None:
    print(f"\nP2: cores per real-time composite (CPU-s per s), ffmpeg CLI on the same job\n"
          f"{'job':<12} {'service':>8} {'core':>7} {'ffmpeg':>7} {'svc/ff':>7} {'core/ff':>8} "
          f"{'target':>7}  verdict")
    for name, job in jobs.items():
        service = mean(steps[name]["recorder_cores"]) if name in steps else float("nan")
        core, ffmpeg = job["stages"]["total"], job["ffmpeg"]
        ratio = f"{service / ffmpeg:.2f}" if ffmpeg else "-"
        core_ratio = f"{core / ffmpeg:.2f}" if ffmpeg else "-"
        ff = f"{ffmpeg:.3f}" if ffmpeg else "-"
        verdict = "PASS" if service <= targets[name] else "MISS"
        print(f"{name:<12} {service:>8.3f} {core:>7.3f} {ff:>7} {ratio:>7} {core_ratio:>8} "
              f"{'<= ' + format(targets[name], 'g'):>7}  {verdict} (target), "
              f"{'PASS' if ffmpeg and service <= ffmpeg else 'MISS'} (vs ffmpeg)")


def print_stages(steps: dict[str, Any], jobs: dict[str, Any]) -> None:
    names = [*STAGES, "other"]
    print("\nStage split, CPU ms per s of media (core in this process; actor = service - core)")
    print(f"{'job':<12} " + " ".join(f"{n:>9}" for n in names) + f" {'actor':>7}")
    for name, job in jobs.items():
        split = job["stages"]
        service = mean(steps[name]["recorder_cores"]) if name in steps else float("nan")
        print(f"{name:<12} " + " ".join(f"{1000 * split[n]:>9.1f}" for n in names)
              + f" {1000 * (service - split['total']):>7.1f}")


def print_memory(steps: list[dict[str, Any]], targets: dict[str, float]) -> None:
    print("\nMemory: RSS per process at the end of each window, MB (largest of the step)")
    print(f"{'step':<16} {'recorder':>9} {'target':>7} {'channel':>8} {'target':>7}  verdict")
    for step in steps:
        recorder = max(step["recorder_rss_mb"], default=0.0)
        channel = max(step["channel_rss_mb"], default=0.0)
        kind = rss_kind(step["name"])
        held = recorder <= targets[kind] and channel <= targets["channel"]
        print(f"{step['name']:<16} {recorder:>9.0f} {targets[kind]:>7g} {channel:>8.0f} "
              f"{targets['channel']:>7g}  {'PASS' if held else 'MISS'}")


def rss_kind(step: str) -> str:
    if step.startswith("individual"):
        return "individual"
    return "p2-720p30" if step == "p2-720p30" else "composite"
