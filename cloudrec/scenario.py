"""A live synthetic channel recorded through the REST API: the demo, and the end-to-end test.

Four synthetic users (distinct colours and tones, a moving marker); one joins late, one leaves
early. A `mix` recording with HLS + MP4 runs for `seconds`, switching float → bestFit →
vertical with `updateLayout`, and is stopped with `stop`. Everything goes through HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ray

from cloudrec.actors.channel.actor import PublisherActor
from cloudrec.client import RecordingClient
from cloudrec.cluster import options
from cloudrec.projections import callbacks
from cloudrec.runtime import Runtime

FLOAT, BEST_FIT, VERTICAL = 0, 1, 2


@dataclass(frozen=True)
class Scenario:
    appid: str
    cname: str = "demo"
    recorder_uid: str = "900001"
    users: tuple[int, ...] = (1001, 1002, 1003, 1004)
    late_user: int = 1004
    early_user: int = 1002
    seconds: float = 30.0
    late_join_s: float = 5.0
    best_fit_s: float = 10.0
    vertical_s: float = 20.0
    early_leave_s: float = 24.0
    large_uid: int = 1003
    prefix: tuple[str, ...] = ("demo",)
    bucket: str = "recordings"
    access_key: str = field(default="local", repr=False)
    secret_key: str = field(default="local", repr=False)

    def start_request(self) -> dict[str, Any]:
        return {
            "recordingConfig": {
                "channelType": 0, "streamTypes": 2, "audioProfile": 0, "maxIdleTime": 30,
                "transcodingConfig": {"width": 360, "height": 640, "fps": 15, "bitrate": 500,
                                      "mixedVideoLayout": FLOAT, "backgroundColor": "#000000"},
            },
            "recordingFileConfig": {"avFileType": ["hls", "mp4"]},
            "storageConfig": {"vendor": 1, "region": 0, "bucket": self.bucket,
                              "accessKey": self.access_key, "secretKey": self.secret_key,
                              "fileNamePrefix": list(self.prefix)},
        }


@dataclass
class Outcome:
    sid: str = ""
    resource_id: str = ""
    queries: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    layout_changes: list[tuple[float, int]] = field(default_factory=list)
    stop_answer: dict[str, Any] = field(default_factory=dict)
    notifications: list[dict[str, Any]] = field(default_factory=list)


class LiveChannel:
    """The scenario's synthetic users, each a publisher actor."""

    def __init__(self, runtime: Runtime, scenario: Scenario) -> None:
        channel = self.channel = runtime.get_channel(scenario.appid, scenario.cname)
        self.actors = {
            uid: options.remote(PublisherActor,
                                options.publisher_options(scenario.appid, scenario.cname, uid)
                                ).remote(channel, uid, "synthetic", index)
            for index, uid in enumerate(scenario.users)}

    def join(self, uid: int) -> None:
        ray.get(self.actors[uid].start.remote(None))

    def wait_present(self, uids: list[int], timeout_s: float = 60.0) -> None:
        """Until `uids` are in the channel (its process may still be starting)."""
        deadline = time.monotonic() + timeout_s
        while not set(uids) <= set(ray.get(self.channel.list_members.remote())):
            if time.monotonic() > deadline:
                raise TimeoutError(f"users {uids} did not join the channel")
            time.sleep(0.1)

    def leave(self, uid: int) -> None:
        ray.get(self.actors[uid].stop.remote())

    def close(self) -> None:
        for actor in self.actors.values():
            ray.get(actor.stop.remote())
            ray.kill(actor)


def run(runtime: Runtime, client: RecordingClient, scenario: Scenario,
        say: Callable[[str], None] = lambda line: None) -> Outcome:
    live = LiveChannel(runtime, scenario)
    outcome = Outcome()
    try:
        first = [uid for uid in scenario.users if uid != scenario.late_user]
        for uid in first:
            live.join(uid)
        live.wait_present(first)  # publishing before `start`: the recording opens on them
        _record(live, client, scenario, outcome, say)
    finally:
        live.close()
    outcome.notifications = notifications(runtime, outcome.sid)
    return outcome


def _record(live: LiveChannel, client: RecordingClient, s: Scenario, outcome: Outcome,
            say: Callable[[str], None]) -> None:
    outcome.resource_id = client.acquire(s.cname, s.recorder_uid)
    outcome.sid = client.start(outcome.resource_id, s.cname, s.recorder_uid, s.start_request())
    began = time.monotonic()
    say(f"started sid={outcome.sid}")
    steps = sorted([(s.late_join_s, "join"), (s.best_fit_s, "bestFit"),
                    (s.vertical_s, "vertical"), (s.early_leave_s, "leave")])
    while (elapsed := time.monotonic() - began) < s.seconds:
        while steps and steps[0][0] <= elapsed:
            _act(steps.pop(0)[1], live, client, s, outcome, elapsed, say)
        answer = client.query(outcome.resource_id, outcome.sid)
        outcome.queries.append((elapsed, answer))
        say(_progress(elapsed, s.seconds, answer))
        time.sleep(min(1.0, max(0.0, s.seconds - elapsed)))
    outcome.stop_answer = client.stop(outcome.resource_id, outcome.sid, s.cname, s.recorder_uid)


def _act(step: str, live: LiveChannel, client: RecordingClient, s: Scenario, outcome: Outcome,
         elapsed: float, say: Callable[[str], None]) -> None:
    if step == "join":
        live.join(s.late_user)
        say(f"user {s.late_user} joined late")
    elif step == "leave":
        live.leave(s.early_user)
        say(f"user {s.early_user} left early")
    else:
        layout: dict[str, Any] = {"mixedVideoLayout": BEST_FIT}
        if step == "vertical":
            layout = {"mixedVideoLayout": VERTICAL, "maxResolutionUid": str(s.large_uid)}
        client.update_layout(outcome.resource_id, outcome.sid, s.cname, s.recorder_uid, layout)
        outcome.layout_changes.append((elapsed, layout["mixedVideoLayout"]))
        say(f"updateLayout → {step}")


def _progress(elapsed: float, total: float, answer: dict[str, Any]) -> str:
    server = answer["serverResponse"]
    done = int(20 * min(1.0, elapsed / total))
    return (f"[{'#' * done}{'.' * (20 - done)}] {elapsed:5.1f}/{total:.0f}s "
            f"status={server['status']} sliceStartTime={server.get('sliceStartTime', 0)}")


def notifications(runtime: Runtime, sid: str) -> list[dict[str, Any]]:
    """The callback payloads of a session, in order: a fold over its events."""
    return callbacks.notifications(runtime.events.read_stream(sid), sid)
