"""Individual mode: allow/deny lists at start and `update` mid-recording decide whose files exist.

What is tried: three synthetic users; an individual recording starts with an audio allow-list
(4001, 4002) and a video deny-list (4002); 6 s in, `update` replaces both (audio: a deny-list of
4001; video: an allow-list of 4002 only); 6 s later `stop`. What is checked, from the files: whose
audio and video playlists exist, that a stream the update ends stops there and one it starts
begins there (durations and START TIMEs against the update's time), that every file decodes,
and that each change is an event (SubscriptionUpdated) with 43/44 for the streams it moves.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import av
import pytest

from cloudrec.client import RecordingClient
from cloudrec.events.segment import TrackPlaylistStarted
from cloudrec.events.subscription import SubscriptionUpdated
from cloudrec.runtime import Runtime
from cloudrec.scenario import LiveChannel, Scenario, notifications

pytestmark = [pytest.mark.integration, pytest.mark.slow,
              # subscriptions, not the event log: test_individual_recording runs both backends
              pytest.mark.parametrize("runtime", ["embedded"], indirect=True)]

USERS = (4001, 4002, 4003)
UPDATE_AT_S, STOP_AT_S = 6.0, 12.0


def start_request() -> dict[str, Any]:
    return {"recordingConfig": {"streamTypes": 2, "subscribeUidGroup": 1,
                                "subscribeAudioUids": ["4001", "4002"],
                                "unSubscribeVideoUids": ["4002"]},
            "recordingFileConfig": {"avFileType": ["hls"]}}


@pytest.fixture(scope="module")
def recorded(runtime: Runtime, server: Any, customers: dict[str, tuple[str, str]]) -> dict:
    secret, appid = customers["alice"]
    client = RecordingClient(server.url, "alice", secret, appid)
    cname = f"ilists{int(time.time())}"
    live = LiveChannel(runtime, Scenario(appid, cname=cname, users=USERS))
    for uid in USERS:
        live.join(uid)
    live.wait_present(list(USERS))  # publishing before `start`
    resource = client.acquire(cname, "900021")
    sid = client.start(resource, cname, "900021", start_request(), mode="individual")
    # the times count from when the recorder records every stream of the start's lists: on a
    # loaded machine its process took 10 s to start, and the update came before any file
    _wait_for_playlists(runtime, sid, {(4001, "audio"), (4002, "audio"), (4001, "video"),
                                       (4003, "video")})
    began = time.monotonic()
    time.sleep(UPDATE_AT_S)
    client.update(resource, sid, cname, "900021", {
        "audioUidList": {"unsubscribeAudioUids": ["4001"]},
        "videoUidList": {"subscribeVideoUids": ["4002"]}}, mode="individual")
    _wait_for_playlists(runtime, sid, {(4003, "audio"), (4002, "video")})
    time.sleep(max(0.0, STOP_AT_S - (time.monotonic() - began)))
    client.stop(resource, sid, cname, "900021", mode="individual")
    live.close()
    client.close()
    events = runtime.events.read_stream(sid)
    update = next(e for e in events if isinstance(e, SubscriptionUpdated))
    return {"sid": sid, "cname": cname, "events": events, "update_ms": update.at_ms,
            "notes": notifications(runtime, sid),
            "root": Path(runtime.settings.storage_url.removeprefix("file://"))}


def _wait_for_playlists(runtime: Runtime, sid: str, streams: set[tuple[int, str]],
                        timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        started = {(int(e.stream_uid), e.track) for e in runtime.events.read_stream(sid)
                   if isinstance(e, TrackPlaylistStarted)}
        if streams <= started:
            return
        assert time.monotonic() < deadline, f"no playlists of {streams - started}"
        time.sleep(0.2)


def _tracks(recorded: dict) -> dict[tuple[int, str], str]:
    sid, cname = recorded["sid"], recorded["cname"]
    found = {}
    for path in recorded["root"].glob(f"{sid}_*.m3u8"):
        match = re.fullmatch(rf"{sid}_{cname}__uid_s_(\d+)__uid_e_(audio|video)\.m3u8", path.name)
        assert match, path.name
        found[(int(match[1]), match[2])] = path.read_text()
    return found


def _span_ms(recorded: dict, text: str) -> tuple[int, int]:
    """First START TIME and the end of the last slice (ms, UTC) of a playlist."""
    first = re.search(r"EVENT=START,TRACK_TYPE=\w+,TIME=(\d{17})", text)
    assert first, text
    names = re.findall(r"_(\d{17})\.ts$", text, re.M)
    durations = [float(d) for d in re.findall(r"#EXTINF:([\d.]+),", text)]
    return _ms(first[1]), _ms(names[-1]) + round(durations[-1] * 1000)


def _ms(time17: str) -> int:
    parsed = time.strptime(time17[:14] + "UTC", "%Y%m%d%H%M%S%Z")
    return (int(time.mktime(parsed)) - time.timezone) * 1000 + int(time17[14:])


def test_only_the_listed_streams_have_files(recorded: dict) -> None:
    assert set(_tracks(recorded)) == {
        (4001, "audio"),  # allowed at start, denied by the update
        (4002, "audio"),  # allowed throughout
        (4003, "audio"),  # not allowed at start, everyone but 4001 after
        (4001, "video"), (4003, "video"),  # not denied at start, not in the update's allow-list
        (4002, "video"),  # denied at start, the only one allowed after
    }


def test_the_update_ends_and_starts_streams_where_it_happened(recorded: dict) -> None:
    tracks, update = _tracks(recorded), recorded["update_ms"]
    for ended in [(4001, "audio"), (4001, "video"), (4003, "video")]:
        start, end = _span_ms(recorded, tracks[ended])
        assert abs(end - update) < 1500, (ended, end - update)
    for begun in [(4003, "audio"), (4002, "video")]:
        start, end = _span_ms(recorded, tracks[begun])
        # packets already buffered in the channel when the update lands (one publisher batch
        # and one recorder pull, ~100 ms each) are recorded too
        assert -500 <= start - update < 2500, (begun, start - update)
        assert end - start > (STOP_AT_S - UPDATE_AT_S - 2.5) * 1000
    start, end = _span_ms(recorded, tracks[(4002, "audio")])
    assert end - start > (STOP_AT_S - 1.5) * 1000 and start < update - 4000


def test_every_file_decodes(recorded: dict) -> None:
    for (uid, kind), text in _tracks(recorded).items():
        assert text.rstrip().endswith("#EXT-X-ENDLIST"), (uid, kind)
        for name in re.findall(r"^\S+\.ts$", text, re.M):
            with av.open(str(recorded["root"] / name)) as container:
                stream = container.streams.audio[0] if kind == "audio" else \
                    container.streams.video[0]
                assert sum(1 for _ in container.decode(stream)) > 0, name


def test_each_change_moves_the_stream_states(recorded: dict) -> None:
    states = [(n["eventType"], n["payload"]["details"]["streamUid"],
               n["payload"]["details"]["state"], n["payload"]["details"]["UtcMs"])
              for n in recorded["notes"] if n["eventType"] in (43, 44)]
    after = {(kind, uid, state) for kind, uid, state, at in states
             if at >= recorded["update_ms"] and at < recorded["update_ms"] + 2500}
    assert after == {(43, "4001", 1), (43, "4003", 0), (44, "4001", 1), (44, "4003", 1),
                     (44, "4002", 0)}
