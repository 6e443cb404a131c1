"""`cloudrec demo`: record a live synthetic channel on the embedded defaults and report it."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import av

from cloudrec import scenario
from cloudrec.client import RecordingClient
from cloudrec.runtime import Runtime, RuntimeSettings, start_runtime
from cloudrec.server import BackgroundServer, api_settings, parse_customer

APPID = "demoapp0000000000000000000000001"


def main(settings: RuntimeSettings, seconds: float) -> int:
    print(f"cloudrec demo: events {settings.events_url}, storage {settings.storage_url}")
    runtime = start_runtime(settings)
    secret = secrets.token_hex(8)
    api = api_settings([parse_customer(f"demo:{secret}:{APPID}")])
    with BackgroundServer(runtime, api) as server:
        print(f"REST API on {server.url} (customer 'demo')")
        client = RecordingClient(server.url, "demo", secret, APPID)
        outcome = scenario.run(runtime, client, scenario.Scenario(APPID, seconds=seconds),
                               say=lambda line: print("  " + line, flush=True))
    report(runtime, outcome)
    return 0


def report(runtime: Runtime, outcome: scenario.Outcome) -> None:
    print("\nquery answers seen:")
    for elapsed, answer in outcome.queries[:: max(1, len(outcome.queries) // 8)]:
        print(f"  t={elapsed:5.1f}s {json.dumps(answer['serverResponse'])}")
    print("\nstop answer:\n  " + json.dumps(outcome.stop_answer["serverResponse"]))
    print("\ncallback notifications, in order:")
    for note in outcome.notifications:
        details = note["payload"]["details"]
        print(f"  {note['payload']['sequence']:3d}  eventType {note['eventType']:3d}"
              f"  {details['msgName']}")
    print("\nfiles:")
    root = Path(runtime.settings.storage_url.removeprefix("file://")).resolve()
    for path in sorted(root.glob(f"**/{outcome.sid}*")):
        print(f"  {path}  {path.stat().st_size} bytes  {_describe(path)}")


def _describe(path: Path) -> str:
    if path.suffix == ".m3u8":
        return f"{path.read_text().count('#EXTINF')} slices"
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        seconds = float(container.duration or 0) / av.time_base
        return f"{video.codec_context.name} {video.width}x{video.height}, {seconds:.1f} s"
