"""The server process of bench/api.py --http: `cloudrec.server.serve`, as `cloudrec serve`.

`--ray`: the whole of `cloudrec serve` (its own local Ray cluster, the controller, warm
recorders) plus `recordings` real mix recordings, each with one synthetic publisher actor,
started over the REST API once it answers; their (sid, resourceId) pairs go to
`sessions.json` in the working directory. Without it: the service over the embedded log only
(no Ray: `query` never calls an actor), the recordings being sessions the benchmark appends.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cloudrec.server import api_settings, parse_customer, serve

SECRET = "benchsecret"


def serve_log_only(events: str, port: int, rate_limit: float, customer: str) -> None:
    from cloudrec.events.backends import open_event_log
    from cloudrec.runtime import status_runner
    from cloudrec.service import RecordingService

    log = open_event_log(events)
    service = RecordingService(log, controller=None, workdir=Path.cwd(),  # type: ignore[arg-type]
                               status_runner=status_runner(log, events))
    settings = api_settings([parse_customer(customer)], rate_limit)
    serve(SimpleNamespace(service=service), settings, "127.0.0.1", port)  # type: ignore[arg-type]


def serve_with_ray(folder: Path, events: str, port: int, rate_limit: float, customer: str,
                   recordings: int) -> None:
    from cloudrec.runtime import RuntimeSettings, start_runtime

    runtime = start_runtime(RuntimeSettings(
        events_url=events, storage_url=f"file://{folder}/recordings",
        workdir=folder / "work", backup_url=f"file://{folder}/backup", slice_seconds=4.0))
    appid = customer.split(":")[2]
    starter = threading.Thread(target=start_recordings,
                               args=(runtime, port, appid, recordings, folder), daemon=True)
    starter.start()
    serve(runtime, api_settings([parse_customer(customer)], rate_limit), "127.0.0.1", port)


def start_recordings(runtime: Any, port: int, appid: str, count: int, folder: Path) -> None:
    """Once the API answers: `count` recordings with a synthetic user each, over REST."""
    from cloudrec import scenario
    from cloudrec.client import RecordingClient

    client = RecordingClient(f"http://127.0.0.1:{port}", "benchcustomer", SECRET, appid)
    _wait_for_api(client)
    sessions, channels = [], []
    for n in range(count):
        plan = scenario.Scenario(appid, cname=f"bench{n}", users=(1000 + n,), prefix=("b",))
        live = scenario.LiveChannel(runtime, plan)
        live.join(plan.users[0])
        live.wait_present(list(plan.users))
        resource = client.acquire(plan.cname, plan.recorder_uid)
        sid = client.start(resource, plan.cname, plan.recorder_uid, plan.start_request())
        sessions.append((sid, resource))
        channels.append(live)  # kept: a closed channel would end its recording
    (folder / "sessions.json.part").write_text(json.dumps(sessions))
    (folder / "sessions.json.part").rename(folder / "sessions.json")
    threading.Event().wait()  # hold the publishers for the server's life


def _wait_for_api(client: Any) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            client.acquire("probe", "1")
            return
        except Exception:  # not listening yet
            time.sleep(0.5)
    raise RuntimeError("the API did not come up")
