"""End to end, through HTTP, on a real local Ray cluster: a 4-user composite recording.

What is tried: acquire → start (float, HLS+MP4) with three users → a fourth joins late →
updateLayout bestFit → updateLayout vertical → a user leaves early → stop. What is checked:
the files decode fully, with the right names, sizes and durations; the colour in each user's
region before and after each layout change; the tones in the mix; the events and callbacks.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cloudrec import scenario
from cloudrec.actors.channel.synthetic import publisher_colors
from cloudrec.actors.layout.geometry import regions, to_pixels
from cloudrec.actors.recorder.timebase import utc17
from cloudrec.events.channel import UserJoined, UserLeft, channel_id
from cloudrec.events.layout import LayoutUpdated
from cloudrec.events.segment import SliceStarted
from cloudrec.runtime import Runtime

from .conftest import SLICE_SECONDS
from .media import Decoded, colour_at, decode, tone_strength

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCENARIO = dict(seconds=22.0, late_join_s=4.0, best_fit_s=8.0, vertical_s=13.0,
                early_leave_s=17.0)
PALETTE = {uid: publisher_colors(4)[i] for i, uid in enumerate((1001, 1002, 1003, 1004))}


@pytest.fixture(scope="module")
def recorded(runtime: Runtime, server: Any, customers: dict[str, tuple[str, str]],
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from cloudrec.client import RecordingClient

    secret, appid = customers["alice"]
    client = RecordingClient(server.url, "alice", secret, appid)
    plan = scenario.Scenario(appid, cname="e2e", **SCENARIO)  # type: ignore[arg-type]
    outcome = scenario.run(runtime, client, plan)
    client.close()
    return {"outcome": outcome, "plan": plan, "runtime": runtime,
            "root": Path(runtime.settings.storage_url.removeprefix("file://"))}


def _events(recorded: dict[str, Any]) -> list[Any]:
    return recorded["runtime"].events.read_stream(recorded["outcome"].sid)


def test_query_names_the_playlist_right_after_start(recorded: dict[str, Any]) -> None:
    outcome, sid = recorded["outcome"], recorded["outcome"].sid
    first = outcome.queries[0][1]
    assert first["sid"] == sid and first["resourceId"] == outcome.resource_id
    assert first["serverResponse"]["fileListMode"] == "json"
    assert first["serverResponse"]["fileList"][0]["fileName"] == f"demo/{sid}_e2e.m3u8"
    statuses = [answer["serverResponse"]["status"] for _, answer in outcome.queries]
    assert statuses == sorted(statuses) and statuses[-1] == 5


def test_stop_lists_playlist_and_mp4_uploaded(recorded: dict[str, Any]) -> None:
    outcome, sid = recorded["outcome"], recorded["outcome"].sid
    answer = outcome.stop_answer["serverResponse"]
    assert answer["uploadingStatus"] == "uploaded"
    names = [entry["fileName"] for entry in answer["fileList"]]
    assert names == [f"demo/{sid}_e2e.m3u8", f"demo/{sid}_e2e_0.mp4"]
    assert all(e["uid"] == "0" and e["mixedAllUser"] for e in answer["fileList"])


def test_playlist_and_every_slice_decode(recorded: dict[str, Any]) -> None:
    sid, root = recorded["outcome"].sid, recorded["root"]
    text = (root / "demo" / f"{sid}_e2e.m3u8").read_text()
    lines = text.splitlines()
    assert lines[:4] == ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-MEDIA-SEQUENCE:0",
                         "#EXT-X-ALLOW-CACHE:YES"]
    assert lines[-1] == "#EXT-X-ENDLIST"
    assert re.search(r"#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=VIDEO,TIME=\d{17}\n", text)
    durations = [float(d) for d in re.findall(r"#EXTINF:(\d+\.\d{6}),\n", text)]
    slices = re.findall(rf"^{sid}_e2e_(\d{{17}})\.ts$", text, re.M)
    assert len(slices) == len(durations) >= 3
    for name, duration in zip(slices, durations, strict=True):
        decoded = decode(root / "demo" / f"{sid}_e2e_{name}.ts")
        assert (decoded.width, decoded.height) == (360, 640)
        assert decoded.video_codec == "h264" and decoded.audio_codec == "aac"
        assert np.all(np.diff(decoded.video_times) > 0)
        assert abs(decoded.video_seconds + 1 / 15 - duration) < 0.2
    assert all(abs(d - SLICE_SECONDS) < 0.1 for d in durations[:-1])
    start = recorded["outcome"].queries[-1][1]["serverResponse"]["sliceStartTime"]
    assert slices[0] == utc17(start)  # a client can predict the first slice's name
    assert abs(sum(durations) - recorded["plan"].seconds) < 2.5


@pytest.fixture(scope="module")
def mp4(recorded: dict[str, Any]) -> Decoded:
    sid = recorded["outcome"].sid
    return decode(recorded["root"] / "demo" / f"{sid}_e2e_0.mp4")


def test_mp4_decodes_at_the_requested_size_and_length(
        recorded: dict[str, Any], mp4: Decoded) -> None:
    assert (mp4.width, mp4.height) == (360, 640)
    assert abs(mp4.video_seconds - recorded["plan"].seconds) < 2.5
    assert abs(len(mp4.audio) / mp4.sample_rate - mp4.video_seconds) < 0.5


def _timeline(recorded: dict[str, Any]) -> tuple[int, list[tuple[int, str, Any]]]:
    """Recording start (ms) and the membership/layout changes on the channel clock."""
    runtime = recorded["runtime"]
    events = _events(recorded)
    t0 = next(e.start_ms for e in events if isinstance(e, SliceStarted))
    changes = [(e.at_ms, "layout", e.layout) for e in events if isinstance(e, LayoutUpdated)]
    channel = runtime.events.read_stream(channel_id(recorded["plan"].appid, "e2e"))
    changes += [(e.at_ms, "join", e.uid) for e in channel if isinstance(e, UserJoined)]
    changes += [(e.at_ms, "leave", e.uid) for e in channel if isinstance(e, UserLeft)]
    return t0, sorted(changes, key=lambda c: c[0])


def _state_at(changes: list[tuple[int, str, Any]], at_ms: int) -> tuple[list[int], Any]:
    members: list[int] = []
    layout = None
    for when, kind, what in changes:
        if when > at_ms:
            break
        if kind == "join" and what not in members:
            members.append(what)
        elif kind == "leave" and what in members:
            members.remove(what)
        elif kind == "layout":
            layout = what
    return members, layout


def _calm_moments(t0: int, changes: list[tuple[int, str, Any]], end_s: float) -> list[float]:
    """Output times (s) midway between consecutive changes, at least 1.2 s from any change."""
    edges = sorted({(when - t0) / 1000 for when, _, _ in changes if when > t0} | {0.0, end_s})
    return [(a + b) / 2 for a, b in zip(edges, edges[1:], strict=False) if b - a > 2.4]


def test_each_user_is_in_its_region_before_and_after_every_change(
        recorded: dict[str, Any], mp4: Decoded) -> None:
    t0, changes = _timeline(recorded)
    moments = _calm_moments(t0, changes, mp4.video_seconds)
    assert len(moments) >= 4  # float(3), float(4), bestFit(4), vertical(4), vertical(3)
    seen_layouts = set()
    for seconds in moments:
        members, layout = _state_at(changes, t0 + int(seconds * 1000))
        kind = layout.mixed_video_layout if layout else 0
        large = layout.max_resolution_uid if layout else None
        seen_layouts.add(kind)
        image = mp4.frame_at(seconds)
        for region in regions(kind, members, large):
            rect = to_pixels(region, 360, 640)
            expected = np.array(PALETTE[region.uid][0])
            got = colour_at(image, rect, 0.3 if region.render_mode == 0 else 0.15)
            assert np.abs(got - expected).max() < 48, (seconds, kind, region.uid, got)
    assert seen_layouts == {0, 1, 2}


def test_mix_holds_every_present_users_tone_without_clipping(
        recorded: dict[str, Any], mp4: Decoded) -> None:
    t0, changes = _timeline(recorded)
    for seconds in _calm_moments(t0, changes, mp4.video_seconds):
        members, _ = _state_at(changes, t0 + int(seconds * 1000))
        start = int((seconds - 0.5) * mp4.sample_rate)
        window = mp4.audio[start : start + mp4.sample_rate]
        strength = {uid: tone_strength(window, mp4.sample_rate, hz)
                    for uid, (_, hz) in PALETTE.items()}
        loudest = max(strength.values())
        for uid, value in strength.items():  # absent tones measure < 0.1 % of present ones
            assert (value > 0.02 * loudest) == (uid in members), (seconds, uid, strength)
    assert np.abs(mp4.audio).max() <= 1.0  # decoded: nothing a player would clip


def test_events_and_callbacks_come_in_order(recorded: dict[str, Any]) -> None:
    # the final upload progress (33) may come after the exit (spec §13.5): left out of the order
    types = [type(e).__name__ for e in _events(recorded) if type(e).__name__ != "UploadProgressed"]
    assert types[0] == "RecordingStarted"
    assert types[-3:] == ["RecorderLeft", "RecordingStopped", "SessionExited"]
    assert types.count("LayoutUpdated") == 2
    assert types.index("SliceStarted") < types.index("SliceWritten") < types.index("StopRequested")
    notes = recorded["outcome"].notifications
    assert [n["payload"]["sequence"] for n in notes] == list(range(len(notes)))
    kinds = [n["eventType"] for n in notes if n["eventType"] != 33]
    assert {30, 40, 43, 44, 42, 4, 41, 31, 11} <= set(kinds)
    assert kinds.index(40) < kinds.index(42) < kinds.index(4) < kinds.index(41)
    assert kinds[-3:] == [41, 31, 11]
    assert all(n["productId"] == 3 and n["sid"] == recorded["outcome"].sid for n in notes)


def test_each_users_streams_have_their_own_43_44(recorded: dict[str, Any]) -> None:
    """Per-user stream state next to the mixed stream "0": the late user starts, the early
    leaver stops, everyone still there stops when the recording ends."""
    plan, notes = recorded["plan"], recorded["outcome"].notifications
    states = [(n["eventType"], n["payload"]["details"]["streamUid"],
               n["payload"]["details"]["state"]) for n in notes if n["eventType"] in (43, 44)]
    for uid in plan.users:
        for kind in (43, 44):
            assert states.count((kind, str(uid), 0)) == 1, (kind, uid, states)
            assert states.count((kind, str(uid), 1)) == 1, (kind, uid, states)
    early_stop = states.index((43, str(plan.early_user), 1))
    assert early_stop < states.index((43, "0", 1))  # left before the end
    assert states.index((43, str(plan.late_user), 0)) > states.index((43, "0", 0))
