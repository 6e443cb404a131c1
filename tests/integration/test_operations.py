"""/healthz and /metrics of the real service, scraped around a short recording.

Tried: scrape, record ~4 s of a one-user channel in mix mode through the REST API (scraping
while it records), stop, scrape again. Checked: healthz is 200 "ok"; the counters moved by what
the log holds (one more session started and ended, slices written and uploaded with their
latency); the live recorder's CPU is reported while it records; the status projection's lag is
a number, not absent."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from cloudrec import scenario
from cloudrec.runtime import Runtime

pytestmark = [pytest.mark.integration, pytest.mark.slow,
              pytest.mark.parametrize("runtime", ["embedded"], indirect=True)]


def scrape(url: str) -> dict[str, float]:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_health_and_metrics_follow_a_recording(runtime: Runtime, server: Any,
                                               client_for: Any) -> None:
    health = httpx.get(f"{server.url}/healthz", timeout=30)
    assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    before = scrape(server.url)
    client = client_for("alice")
    plan = scenario.Scenario(client.appid, cname=f"ops{int(time.time()) % 100_000}",
                             users=(2001,), late_user=0, early_user=0, prefix=("ops",))
    live = scenario.LiveChannel(runtime, plan)
    try:
        live.join(2001)
        live.wait_present([2001])
        resource = client.acquire(plan.cname, plan.recorder_uid)
        sid = client.start(resource, plan.cname, plan.recorder_uid, plan.start_request())
        time.sleep(4.0)
        during = scrape(server.url)
        client.stop(resource, sid, plan.cname, plan.recorder_uid)
    finally:
        live.close()
    after = scrape(server.url)

    started = 'cloudrec_events_total{type="RecordingStarted"}'
    assert after[started] == before.get(started, 0) + 1
    ended = 'cloudrec_sessions{state="ended"}'
    assert after[ended] == before[ended] + 1
    assert during['cloudrec_sessions{state="recording"}'] >= 1
    assert "cloudrec_recorder_cpu_percent" in during
    assert after["cloudrec_slices_written_total"] > before["cloudrec_slices_written_total"]
    assert after["cloudrec_upload_latency_seconds_count"] > before[
        "cloudrec_upload_latency_seconds_count"]
    assert after['cloudrec_event_log_lag{reader="status"}'] >= 0
    assert all(re.fullmatch(r"[a-z_]+(\{.*\})?", name) for name in after)
