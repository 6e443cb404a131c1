"""Subscription lists, `update` mid-recording and idle exit, end to end on a mix recording.

What is tried: three synthetic users; `start` with an audio allow-list (2001, 2002) and a video
deny-list (2003), `maxIdleTime` 5; after a while `update` replaces both (audio: a deny-list of
2001; video: `#allstream#`); then every user leaves and nobody calls `stop`. What is checked:
the tones and the regions in the recording before and after the update, the SubscriptionUpdated
event and the per-user 43/44 callbacks it causes, and the idle exit: the session ends by itself
(query 404), recorder_leave has leaveCode 4, session_exit exitStatus 0, and the playlist is
finalised with every slice decodable.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cloudrec.actors.channel.synthetic import publisher_colors
from cloudrec.actors.layout.geometry import regions, to_pixels
from cloudrec.client import ApiCallFailed, RecordingClient
from cloudrec.events.segment import SliceStarted
from cloudrec.events.subscription import SubscriptionUpdated
from cloudrec.runtime import Runtime
from cloudrec.scenario import LiveChannel, Scenario, notifications

from .media import colour_at, decode, tone_strength

pytestmark = [pytest.mark.integration, pytest.mark.slow,
              # subscriptions, not the event log: the Kafka backend runs the composite test
              pytest.mark.parametrize("runtime", ["embedded"], indirect=True)]

USERS = (2001, 2002, 2003)
LOOKS = dict(zip(USERS, publisher_colors(3), strict=True))
BEST_FIT, IDLE_S, UPDATE_AT_S, LEAVE_AT_S = 1, 5, 7.0, 14.0


def start_request() -> dict[str, Any]:
    return {
        "recordingConfig": {
            "streamTypes": 2, "maxIdleTime": IDLE_S,
            "subscribeAudioUids": ["2001", "2002"], "unSubscribeVideoUids": ["2003"],
            "transcodingConfig": {"width": 360, "height": 640, "fps": 15, "bitrate": 500,
                                  "mixedVideoLayout": BEST_FIT}},
        "recordingFileConfig": {"avFileType": ["hls"]},
    }


@pytest.fixture(scope="module")
def recorded(runtime: Runtime, server: Any, customers: dict[str, tuple[str, str]]) -> dict:
    secret, appid = customers["alice"]
    client = RecordingClient(server.url, "alice", secret, appid)
    cname = f"subs{int(time.time())}"
    live = LiveChannel(runtime, Scenario(appid, cname=cname, users=USERS))
    for uid in USERS:
        live.join(uid)
    live.wait_present(list(USERS))  # publishing before `start`
    resource = client.acquire(cname, "900002")
    sid = client.start(resource, cname, "900002", start_request())
    began = time.monotonic()
    time.sleep(UPDATE_AT_S)
    client.update(resource, sid, cname, "900002", {
        "audioUidList": {"unSubscribeAudioUids": ["2001"]},
        "videoUidList": {"subscribeVideoUids": ["#allstream#"]}})
    time.sleep(max(0.0, LEAVE_AT_S - (time.monotonic() - began)))
    for uid in USERS:
        live.leave(uid)
    left = time.monotonic()
    ended_after = None
    while time.monotonic() - left < IDLE_S + 30:
        try:
            client.query(resource, sid)
        except ApiCallFailed as gone:
            assert gone.status == 404
            ended_after = time.monotonic() - left
            break
        time.sleep(0.5)
    live.close()
    client.close()
    return {"sid": sid, "cname": cname, "ended_after": ended_after, "runtime": runtime,
            "root": Path(runtime.settings.storage_url.removeprefix("file://")),
            "events": runtime.events.read_stream(sid), "notes": notifications(runtime, sid)}


def test_the_session_exits_by_itself_once_idle(recorded: dict) -> None:
    assert recorded["ended_after"] is not None, "no idle exit within maxIdleTime + 30 s"
    assert IDLE_S <= recorded["ended_after"] < IDLE_S + 25
    events = recorded["events"]
    left = next(e for e in events if type(e).__name__ == "RecorderLeft")
    stop = next(e for e in events if type(e).__name__ == "StopRequested")
    assert (left.leave_code, stop.reason) == (4, "idle")
    last = [e for e in events if type(e).__name__ != "UploadProgressed"][-1]  # 33 may trail
    assert type(last).__name__ == "SessionExited" and last.exit_status == 0
    kinds = [n["eventType"] for n in recorded["notes"] if n["eventType"] != 33]
    assert kinds[-3:] == [41, 31, 11]
    details = {n["eventType"]: n["payload"]["details"] for n in recorded["notes"]}
    assert details[41]["leaveCode"] == 4 and details[11]["exitStatus"] == 0


def test_update_is_an_event_and_moves_the_per_user_stream_states(recorded: dict) -> None:
    update = next(e for e in recorded["events"] if isinstance(e, SubscriptionUpdated))
    assert update.audio.unsubscribe == ("2001",) and update.video.subscribe == ("#allstream#",)
    states = [(n["eventType"], n["payload"]["details"]["streamUid"],
               n["payload"]["details"]["state"]) for n in recorded["notes"]
              if n["eventType"] in (43, 44)]
    before = [s for s in states if s[1] != "0"][:4]
    assert sorted(before) == [(43, "2001", 0), (43, "2002", 0), (44, "2001", 0), (44, "2002", 0)]
    assert (43, "2001", 1) in states and (43, "2003", 0) in states and (44, "2003", 0) in states
    assert states.index((43, "2001", 1)) > states.index((43, "2002", 0))


def _playlist(recorded: dict) -> tuple[list[Path], str]:
    sid, cname, root = recorded["sid"], recorded["cname"], recorded["root"]
    text = (root / f"{sid}_{cname}.m3u8").read_text()
    names = [line for line in text.splitlines() if line.endswith(".ts")]
    return [root / name for name in names], text


def test_the_files_follow_the_lists_before_and_after_the_update(recorded: dict) -> None:
    slices, text = _playlist(recorded)
    assert text.rstrip().endswith("#EXT-X-ENDLIST")  # finalised by the idle exit
    decoded = [decode(path) for path in slices]
    audio = np.concatenate([d.audio for d in decoded])
    frames = [(t0 + t, f) for t0, d in _offsets(decoded) for t, f in zip(
        d.video_times, d.frames, strict=True)]
    events = recorded["events"]
    t0 = next(e.start_ms for e in events if isinstance(e, SliceStarted))
    update_s = (next(e for e in events if isinstance(e, SubscriptionUpdated)).at_ms - t0) / 1000
    _check(audio, frames, update_s - 2.0, heard={2001, 2002}, seen=[2001, 2002])
    _check(audio, frames, update_s + 2.5, heard={2002, 2003}, seen=[2001, 2002, 2003])


def _offsets(decoded: list) -> list[tuple[float, Any]]:
    """Each slice's start on the recording's time axis (slices follow one another)."""
    out, at = [], 0.0
    for d in decoded:
        out.append((at - d.video_times[0], d))
        at += d.video_seconds + 1 / 15
    return out


def _check(audio: np.ndarray, frames: list, seconds: float, heard: set[int],
           seen: list[int]) -> None:
    window = audio[int((seconds - 0.5) * 48000): int((seconds + 0.5) * 48000)]
    strength = {uid: tone_strength(window, 48000, hz) for uid, (_, hz) in LOOKS.items()}
    loudest = max(strength.values())
    assert {uid for uid, v in strength.items() if v > 0.02 * loudest} == heard, (seconds, strength)
    image = min(frames, key=lambda f: abs(f[0] - seconds))[1]
    # regions follow the channel's join order, and each publisher actor joins from its own
    # process (2002 may come first): every region shows one of `seen`, and each of them once
    shown = []
    for region in regions(BEST_FIT, seen, None):
        got = colour_at(image, to_pixels(region, 360, 640))
        shown += [uid for uid in seen if np.abs(got - np.array(LOOKS[uid][0])).max() < 48]
    assert sorted(shown) == sorted(seen), (seconds, shown)

