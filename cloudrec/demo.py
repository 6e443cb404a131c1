"""`cloudrec demo`: record a live synthetic channel on the embedded defaults and report it."""

from __future__ import annotations

import json
import os
import secrets
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import av

from cloudrec import scenario
from cloudrec.actors.uploader.destination import Credentials
from cloudrec.actors.uploader.s3 import BucketReader, create_bucket
from cloudrec.client import RecordingClient
from cloudrec.events.callback import CallbackEvent
from cloudrec.runtime import Runtime, RuntimeSettings, start_runtime
from cloudrec.server import BackgroundServer, api_settings, parse_customer

APPID = "demoapp0000000000000000000000001"
LOCAL_S3_KEYS = Path(".cloudrec/s3/credentials.json")  # written by cluster/s3/up.sh


def s3_keys() -> Credentials:
    """The bucket's keys: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else the local server's."""
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        return Credentials(os.environ["AWS_ACCESS_KEY_ID"],
                           os.environ.get("AWS_SECRET_ACCESS_KEY", ""))
    if LOCAL_S3_KEYS.exists():
        keys = json.loads(LOCAL_S3_KEYS.read_text())
        return Credentials(keys["access_key"], keys["secret_key"])
    return Credentials("local", "local")  # a local server that checks no signatures


def plan(settings: RuntimeSettings, seconds: float) -> scenario.Scenario:
    """The demo's scenario; with `--storage s3://BUCKET` it records into that bucket."""
    if not settings.storage_url.startswith("s3://"):
        return scenario.Scenario(APPID, seconds=seconds)
    bucket, keys = urlparse(settings.storage_url).netloc, s3_keys()
    endpoint = settings.storage_plan().endpoint
    if not bucket or not endpoint:
        raise SystemExit("--storage s3://BUCKET needs a bucket and --s3-endpoint URL")
    create_bucket(endpoint, bucket, keys)
    return scenario.Scenario(APPID, seconds=seconds, bucket=bucket,
                             access_key=keys.access_key, secret_key=keys.secret_key)


def main(settings: RuntimeSettings, seconds: float) -> int:
    print(f"cloudrec demo: events {settings.events_url}, storage {settings.storage_url}")
    demo_plan = plan(settings, seconds)
    runtime = start_runtime(settings)
    secret = secrets.token_hex(8)
    api = api_settings([parse_customer(f"demo:{secret}:{APPID}")])
    with BackgroundServer(runtime, api) as server:
        print(f"REST API on {server.url} (customer 'demo')")
        client = RecordingClient(server.url, "demo", secret, APPID)
        outcome = scenario.run(runtime, client, demo_plan,
                               say=lambda line: print("  " + line, flush=True))
    report(runtime, outcome, demo_plan)
    report_webhooks(runtime, outcome.sid)
    return 0


def report_webhooks(runtime: Runtime, sid: str, settle_s: float = 15.0) -> None:
    """With --webhook: let the deliverer finish (up to `settle_s`), then count its outcomes."""
    if runtime.deliverer is None:
        return
    deadline = time.monotonic() + settle_s
    time.sleep(1.0)  # the last events reach the follower
    while runtime.deliverer.busy() and time.monotonic() < deadline:
        time.sleep(0.2)
    runtime.deliverer.stop()
    outcomes = Counter(getattr(e, "type", "") for e in runtime.events.read_stream(sid)
                       if isinstance(e, CallbackEvent))
    counted = ", ".join(f"{n} {kind}" for kind, n in sorted(outcomes.items()))
    print(f"\nwebhook deliveries: {counted or 'none'}")


def report(runtime: Runtime, outcome: scenario.Outcome, demo_plan: scenario.Scenario) -> None:
    print("\nquery answers seen:")
    for elapsed, answer in outcome.queries[:: max(1, len(outcome.queries) // 8)]:
        print(f"  t={elapsed:5.1f}s {json.dumps(answer['serverResponse'])}")
    print("\nstop answer:\n  " + json.dumps(outcome.stop_answer["serverResponse"]))
    print("\ncallback notifications, in order:")
    for note in outcome.notifications:
        details = note["payload"]["details"]
        print(f"  {note['payload']['sequence']:3d}  eventType {note['eventType']:3d}"
              f"  {details['msgName']}{_gist(details)}")
    print("\nfiles:")
    if runtime.settings.storage_url.startswith("s3://"):
        report_bucket(runtime, outcome, demo_plan)
        return
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


def report_bucket(runtime: Runtime, outcome: scenario.Outcome,
                  demo_plan: scenario.Scenario) -> None:
    endpoint = runtime.settings.storage_plan().endpoint or ""
    reader = BucketReader(endpoint, demo_plan.bucket,
                          Credentials(demo_plan.access_key, demo_plan.secret_key))
    for key, size in sorted(reader.sizes(f"{'/'.join(demo_plan.prefix)}/{outcome.sid}").items()):
        print(f"  s3://{demo_plan.bucket}/{key}  {size} bytes")


def _gist(details: dict[str, Any]) -> str:
    """The fields that tell notifications of one type apart (whose stream, which state)."""
    keys = ("streamUid", "state", "leaveCode", "exitStatus")
    shown = [f"{key}={details[key]}" for key in keys if key in details]
    return f"  ({', '.join(shown)})" if shown else ""
