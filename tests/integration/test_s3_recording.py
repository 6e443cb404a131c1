"""Recording into a real S3-compatible server over HTTP (moto's server mode behind a TCP proxy
the test controls): uploads with their events and callbacks; a wrong bucket and a wrong secret
failing fast; a 60 s storage outage during a recording losing nothing (R4); and the storage keys
appearing nowhere — not in events, logs, callbacks, query or stop answers (R6)."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import ray

from cloudrec import scenario
from cloudrec.actors.session.handle import ControllerHandle
from cloudrec.client import RecordingClient
from cloudrec.config import StoragePlan
from cloudrec.events.log import every_event
from cloudrec.events.segment import Mp4Written, SliceWritten
from cloudrec.events.upload import FileBackedUp, FileUploaded, UploadFailed, UploadProgressed
from cloudrec.projections import status
from cloudrec.runtime import Runtime
from cloudrec.server import BackgroundServer, api_settings, parse_customer
from cloudrec.service import RecordingService

from .conftest import SLICE_SECONDS
from .media import decode
from .proxy import OutageProxy
from .s3 import S3Server, s3_server  # noqa: F401  (fixture)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PREFIX = ("rec", "room")
OUTAGE_S = 60.0
QUIET = dict(late_join_s=2.0, best_fit_s=1e9, vertical_s=1e9, early_leave_s=1e9)


@dataclass
class Bench:
    runtime: Runtime
    server: BackgroundServer
    root: Path
    proxy: OutageProxy
    s3: S3Server
    secret: str  # the alice customer's
    appid: str
    logs: list[str] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)  # every query/stop answer
    sids: list[str] = field(default_factory=list)

    def client(self) -> RecordingClient:
        return RecordingClient(self.server.url, "alice", self.secret, self.appid)

    def record(self, bucket: str, cname: str, seconds: float, secret_key: str | None = None,
               on_start: Any = None) -> scenario.Outcome:
        keys = self.s3.credentials
        plan = scenario.Scenario(self.appid, cname=cname, seconds=seconds, prefix=PREFIX,
                                 bucket=bucket, access_key=keys.access_key,
                                 secret_key=secret_key or keys.secret_key, **QUIET)  # type: ignore[arg-type]
        say = (lambda line: on_start() if line.startswith("started") else None) if on_start \
            else (lambda line: None)
        client = self.client()
        try:
            outcome = scenario.run(self.runtime, client, plan, say=say)
        finally:
            client.close()
        self.sids.append(outcome.sid)
        self.answers += [a for _, a in outcome.queries] + [outcome.stop_answer]
        return outcome

    def events(self, sid: str) -> list[Any]:
        return self.runtime.events.read_stream(sid)


class Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(self.format(record))


@pytest.fixture(scope="module")
def bench(runtime: Runtime, s3_server: S3Server,  # noqa: F811
          customers: dict[str, tuple[str, str]],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    root = tmp_path_factory.mktemp("s3rec")
    target = urlparse(s3_server.endpoint)
    proxy = OutageProxy(target.hostname or "127.0.0.1", target.port or 80)
    plan = StoragePlan(s3=True, endpoint=proxy.url, backup_url=f"file://{root}/backup")
    service = RecordingService(runtime.events, ControllerHandle(runtime.controller),
                               root / "work", SLICE_SECONDS, storage=plan)
    s3_runtime = Runtime(runtime.settings, runtime.events, runtime.controller, service)
    entries = [parse_customer(f"{who}:{secret}:{app}") for who, (secret, app) in customers.items()]
    logs: list[str] = []
    handler = Collect(logs)
    logging.getLogger().addHandler(handler)
    secret, appid = customers["alice"]
    try:
        with BackgroundServer(s3_runtime, api_settings(entries, rate_limit=50)) as server:
            yield Bench(s3_runtime, server, root, proxy, s3_server, secret, appid, logs)
    finally:
        logging.getLogger().removeHandler(handler)
        proxy.close()


def notifications(bench: Bench, sid: str) -> list[dict[str, Any]]:
    return scenario.notifications(bench.runtime, sid)


def wait_for(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def assert_all_files_in_bucket(bench: Bench, bucket: str, sid: str) -> None:
    """Every slice, the MP4 and the final playlist, byte-identical to what the recorder wrote."""
    events = bench.events(sid)
    written = [e for e in events if isinstance(e, SliceWritten | Mp4Written)]
    uploaded = {e.key: e for e in events if isinstance(e, FileUploaded)}
    reader = bench.s3.reader(bucket)
    stored = reader.sizes("rec/room/")
    assert len([e for e in written if isinstance(e, SliceWritten)]) >= 2
    assert any(isinstance(e, Mp4Written) for e in written)
    for event in written:
        assert stored.get(event.key) == event.size, event.key
        data = reader.read(event.key)
        assert hashlib.md5(data).hexdigest() == uploaded[event.key].md5 != ""
    playlist = f"rec/room/{sid}_{events[0].cname}.m3u8"
    local = (bench.root / "work" / sid / "g1" / playlist).read_bytes()  # generation 1's folder
    assert reader.read(playlist) == local and local.endswith(b"#EXT-X-ENDLIST\n")
    assert set(stored) == {e.key for e in written} | {playlist}


def test_a_recording_lands_in_the_bucket_with_its_events_and_callbacks(bench: Bench) -> None:
    bucket = bench.s3.new_bucket()
    outcome = bench.record(bucket, "s3ok", seconds=14.0)
    sid = outcome.sid
    answer = outcome.stop_answer["serverResponse"]
    assert answer["uploadingStatus"] == "uploaded"
    assert [e["fileName"] for e in answer["fileList"]] == [
        f"rec/room/{sid}_s3ok.m3u8", f"rec/room/{sid}_s3ok_0.mp4"]
    assert_all_files_in_bucket(bench, bucket, sid)
    events = bench.events(sid)
    slices = [e for e in events if isinstance(e, SliceWritten)]
    playlists = [e for e in events if isinstance(e, FileUploaded) and e.kind == "playlist"]
    assert len(playlists) == len(slices) >= 2  # re-uploaded with each slice, the last one final
    assert not list((bench.root / "work" / sid).glob("**/*.ts"))  # deleted once confirmed
    mp4 = bench.root / "downloaded.mp4"
    mp4.write_bytes(bench.s3.reader(bucket).read(f"rec/room/{sid}_s3ok_0.mp4"))
    assert (decode(mp4).width, decode(mp4).height) == (360, 640)
    wait_for(lambda: any(isinstance(e, UploadProgressed) for e in bench.events(sid)), 30,
             "the final upload progress")
    notes = notifications(bench, sid)
    kinds = [n["eventType"] for n in notes]
    assert {30, 4, 31, 11, 33} <= set(kinds) and 1 not in kinds and 32 not in kinds
    uploaded = next(n for n in notes if n["eventType"] == 31)["payload"]["details"]
    assert uploaded["fileList"] == answer["fileList"]
    assert notes[-1]["payload"]["details"] == {"msgName": "uploading_progress", "progress": 10000}


def _failure(bench: Bench, sid: str) -> dict[str, Any]:
    errors = [n for n in notifications(bench, sid) if n["eventType"] == 1]
    assert len(errors) == 1
    details: dict[str, Any] = errors[0]["payload"]["details"]
    assert (details["module"], details["errorCode"], details["errorLevel"]) == (1, 32, 5)
    return details


def test_a_missing_bucket_fails_fast_and_says_so(bench: Bench) -> None:
    outcome = bench.record("no-such-bucket-for-cloudrec", "s3nobucket", seconds=4.0)
    # start answers before the uploader (a process of its own) has checked the bucket: the
    # refusal is in the log before the first upload, and the session's status is 20 from then
    events = bench.events(outcome.sid)
    refused = next(i for i, e in enumerate(events) if type(e).__name__ == "RecordingFailed")
    assert not any(isinstance(e, FileUploaded | UploadFailed) for e in events[:refused])
    assert status.fold(events, outcome.sid).status == 20
    assert "NoSuchBucket" in _failure(bench, outcome.sid)["errorMsg"]
    assert outcome.stop_answer["serverResponse"]["uploadingStatus"] == "unknown"
    assert not (bench.root / "backup" / "rec").exists() or not list(
        (bench.root / "backup").glob(f"**/{outcome.sid}*"))  # no silent fallback


def test_a_wrong_secret_fails_fast_and_keeps_the_files(bench: Bench) -> None:
    bucket = bench.s3.new_bucket()
    outcome = bench.record(bucket, "s3badkey", seconds=SLICE_SECONDS + 6,
                           secret_key="wrong-secret-kept-out-of-everything-42")
    assert outcome.queries[-1][1]["serverResponse"]["status"] == 20
    assert "SignatureDoesNotMatch" in _failure(bench, outcome.sid)["errorMsg"]
    assert outcome.stop_answer["serverResponse"]["uploadingStatus"] == "unknown"
    assert not any(isinstance(e, UploadFailed) for e in bench.events(outcome.sid))  # no retry
    assert bench.s3.reader(bucket).sizes() == {}
    assert list((bench.root / "work" / outcome.sid).glob("**/*.ts"))  # kept locally
    assert not list((bench.root / "backup").glob(f"**/{outcome.sid}*"))


@pytest.mark.parametrize("runtime", ["embedded"], indirect=True)  # storage, not the event log
def test_a_60s_storage_outage_loses_nothing(bench: Bench) -> None:
    """R4: the endpoint goes down 1 s after start for 60 s; the recording (14 s) stops during
    the outage (backuped); afterwards every file is in the bucket, byte-identical. Run on the
    embedded event log only: the outage is the store's, and a minute per backend is too dear."""
    bucket = bench.s3.new_bucket()
    timers: list[threading.Timer] = []

    def outage() -> None:
        bench.proxy.down()
        timers.append(threading.Timer(OUTAGE_S, bench.proxy.up))
        timers[-1].start()

    def on_start() -> None:
        timers.append(threading.Timer(1.0, outage))
        timers[-1].start()

    began = time.monotonic()
    outcome = bench.record(bucket, "s3outage", seconds=14.0, on_start=on_start)
    sid = outcome.sid
    assert outcome.stop_answer["serverResponse"]["uploadingStatus"] == "backuped"
    assert bench.proxy.refused > 0 and bench.s3.reader(bucket).sizes("rec/room/") == {}
    wait_for(lambda: bench.proxy.available.is_set(), OUTAGE_S + 10, "the end of the outage")
    assert time.monotonic() - began >= OUTAGE_S
    wait_for(lambda: any(isinstance(e, UploadProgressed) and e.progress == 10000
                         for e in bench.events(sid)), 60, "the backup pushed to the bucket")
    assert_all_files_in_bucket(bench, bucket, sid)
    events = bench.events(sid)
    assert any(isinstance(e, UploadFailed) for e in events)  # retried first (warning 31)
    backed = {e.key for e in events if isinstance(e, FileBackedUp)}
    restored = {e.key for e in events if isinstance(e, FileUploaded) and e.restored}
    assert backed and backed == restored
    assert not [p for p in (bench.root / "backup").glob("**/*") if p.is_file()]  # drained
    kinds = [n["eventType"] for n in notifications(bench, sid)]
    assert 32 in kinds and 31 not in kinds and 2 in kinds


def test_storage_keys_appear_nowhere(bench: Bench) -> None:
    """R6: runs last in this module, over everything the recordings above left behind."""
    assert len(bench.sids) >= 3
    keys = bench.s3.credentials
    secrets = [keys.secret_key, keys.access_key, "wrong-secret-kept-out-of-everything-42"]
    places: dict[str, str] = {}
    # every partition (partition 0 alone held none of these recordings when no sid hashed there)
    every = list(every_event(bench.runtime.events))
    assert {e.event_id for sid in bench.sids for e in bench.events(sid)} <= {
        e.event_id for e in every}
    places["events"] = "\n".join(e.model_dump_json() for e in every)
    db = Path(bench.runtime.settings.events_url.removeprefix("sqlite:///"))
    places["event store files"] = "".join(
        p.read_bytes().decode("latin-1") for p in db.parent.glob(db.name + "*"))
    places["callbacks"] = repr([notifications(bench, sid) for sid in bench.sids])
    places["query and stop answers"] = repr(bench.answers)
    places["driver logs"] = "\n".join(bench.logs)
    session = Path(ray._private.worker._global_node.get_session_dir_path())  # noqa: SLF001
    places["ray logs"] = "".join(p.read_bytes().decode("latin-1")
                                 for p in (session / "logs").rglob("*") if p.is_file())
    assert len(places["events"]) > 1000 and len(places["ray logs"]) > 1000
    for where, text in places.items():
        for secret in secrets:
            assert secret not in text, f"a storage key appears in the {where}"
