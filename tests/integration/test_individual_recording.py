"""End to end, through HTTP, on a real local Ray cluster: individual-mode recordings.

What is tried: two synthetic users publish from this process (so the test keeps every packet
they sent); three individual recordings of their channel run at once: `streamTypes` 2, 0 and 1.
User 3002 unpublishes its audio 5 s in and publishes it again at 9 s. What is checked: every
per-user file holds exactly the bytes that user published (no re-encode) and decodes to that
user's colour or tone; names per §13.1; START tags whose TIMEs agree with the pts; durations;
`query`/`stop` json file lists; 42/43/44 per user; streamTypes 0/1 write only audio/video;
bad individual requests get the spec's error shape.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import ray

from cloudrec.actors.channel.handle import ChannelHandle
from cloudrec.actors.channel.packet import MediaPacket, TrackInfo
from cloudrec.actors.channel.publisher import Publisher
from cloudrec.actors.channel.synthetic import SyntheticPublisher, publisher_colors
from cloudrec.actors.recorder.timebase import utc17
from cloudrec.client import ApiCallFailed, RecordingClient
from cloudrec.events.recording import RecorderLaunched
from cloudrec.runtime import Runtime
from cloudrec.scenario import notifications

from .conftest import SLICE_SECONDS
from .media import tone_strength

# On the embedded log only: the composite, failover and webhook tests run on both logs and
# cover Kafka's part (the log); individual mode's own work is the same on either (test time).
pytestmark = [pytest.mark.integration, pytest.mark.slow,
              pytest.mark.parametrize("runtime", ["embedded"], indirect=True)]

USERS = (3001, 3002)
LOOKS = dict(zip(USERS, publisher_colors(2), strict=True))
SECONDS, AUDIO_OFF_S, AUDIO_ON_S = 16.0, 5.0, 9.0
RECORDERS = {2: "900011", 0: "900012", 1: "900013"}  # streamTypes -> recorder uid
AUD = b"\x00\x00\x00\x01\x09\xf0"  # the access-unit delimiter a TS muxer puts before H.264
TS_OFFSET_S = 10.0


class Taped:
    """A synthetic source that keeps every packet it hands out."""

    def __init__(self, uid: int) -> None:
        colour, tone = LOOKS[uid]
        self.source = SyntheticPublisher(uid, colour, tone)
        self.sent: list[MediaPacket] = []

    def tracks(self) -> list[TrackInfo]:
        return self.source.tracks()

    def packets_until(self, media_seconds: float) -> list[MediaPacket]:
        packets = self.source.packets_until(media_seconds)
        self.sent += packets
        return packets


def start_request(stream_types: int) -> dict[str, Any]:
    return {"recordingConfig": {"channelType": 0, "streamTypes": stream_types,
                                "subscribeUidGroup": 0, "maxIdleTime": 30},
            "recordingFileConfig": {"avFileType": ["hls"]},
            "storageConfig": {"vendor": 1, "region": 0, "bucket": "recordings",
                              "accessKey": "local", "secretKey": "local",
                              "fileNamePrefix": ["indiv"]}}


@pytest.fixture(scope="module")
def recorded(runtime: Runtime, server: Any, customers: dict[str, tuple[str, str]]) -> dict:
    secret, appid = customers["alice"]
    client = RecordingClient(server.url, "alice", secret, appid)
    cname = f"ind{int(time.time())}"
    channel = ChannelHandle(runtime.get_channel(appid, cname))
    tapes = {uid: Taped(uid) for uid in USERS}
    stop = threading.Event()
    threads = [threading.Thread(target=Publisher(channel, uid, tape).run, args=(stop,),
                                daemon=True) for uid, tape in tapes.items()]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60  # the channel's process may still be starting
    while set(ray.get(channel.actor.list_members.remote())) != set(USERS):
        assert time.monotonic() < deadline, "publishers did not join"
        time.sleep(0.1)
    time.sleep(0.5)
    sessions, opened = {}, time.monotonic()
    for types, uid in RECORDERS.items():
        resource = client.acquire(cname, uid)
        sessions[types] = (resource, client.start(resource, cname, uid, start_request(types),
                                                  mode="individual"))
    for _, sid in sessions.values():  # start answers first; the recorders join from there
        while not any(isinstance(e, RecorderLaunched) for e in runtime.events.read_stream(sid)):
            assert time.monotonic() - opened < 60, "a recorder did not join"
            time.sleep(0.05)
    began = time.monotonic()
    queries = _drive(client, channel, tapes[3002], sessions[2], began)
    resource, sid = sessions[2]
    stops = {2: client.stop(resource, sid, cname, RECORDERS[2], mode="individual")}
    span = time.monotonic() - opened  # start to stop of the streamTypes 2 recording, at most
    stops |= {types: client.stop(resource, sid, cname, RECORDERS[types], mode="individual")
              for types, (resource, sid) in sessions.items() if types != 2}
    stop.set()
    for thread in threads:
        thread.join(10)
    client.close()
    return {"cname": cname, "tapes": tapes, "sessions": sessions, "queries": queries,
            "stops": stops, "runtime": runtime, "span": span,
            "root": Path(runtime.settings.storage_url.removeprefix("file://"))}


def _drive(client: RecordingClient, channel: ChannelHandle, tape: Taped,
           session: tuple[str, str], began: float) -> list[dict[str, Any]]:
    """Unpublish 3002's audio, publish it again, query now and then, until SECONDS."""
    audio = next(t for t in tape.tracks() if t.kind == "audio")
    steps = [(AUDIO_OFF_S, lambda: channel.unpublish(3002, "audio")),
             (AUDIO_ON_S, lambda: channel.publish(audio))]
    queries = []
    while (elapsed := time.monotonic() - began) < SECONDS:
        while steps and steps[0][0] <= elapsed:
            steps.pop(0)[1]()
        queries.append(client.query(*session, mode="individual"))
        time.sleep(0.5)
    return queries


def _playlists(recorded: dict, types: int) -> dict[tuple[int, str], Path]:
    sid = recorded["sessions"][types][1]
    found = {}
    for path in (recorded["root"] / "indiv").glob(f"{sid}_*.m3u8"):
        match = re.fullmatch(rf"{sid}_{recorded['cname']}__uid_s_(\d+)__uid_e_(audio|video)\.m3u8",
                             path.name)
        assert match, path.name  # §13.1
        found[(int(match.group(1)), match.group(2))] = path
    return found


def _slices(playlist: Path) -> list[Path]:
    return [playlist.parent / name for name in re.findall(r"^(.*\.ts)$", playlist.read_text(),
                                                          re.M)]


def _demux(path: Path) -> list[tuple[bytes, float]]:
    with av.open(str(path)) as container:
        stream = container.streams[0]
        return [(bytes(p).removeprefix(AUD), float(p.pts * p.time_base))
                for p in container.demux(stream) if p.size]


def test_stop_and_query_list_each_users_audio_and_video(recorded: dict) -> None:
    resource, sid = recorded["sessions"][2]
    answer = recorded["stops"][2]["serverResponse"]
    assert answer["fileListMode"] == "json" and answer["uploadingStatus"] == "uploaded"
    cname = recorded["cname"]
    expected = {f"indiv/{sid}_{cname}__uid_s_{uid}__uid_e_{kind}.m3u8": (str(uid), kind)
                for uid in USERS for kind in ("audio", "video")}
    entries = {e["fileName"]: e for e in answer["fileList"]}
    assert set(entries) == set(expected)
    for name, entry in entries.items():
        assert (entry["uid"], entry["trackType"]) == expected[name]
        assert entry["mixedAllUser"] is False
        assert entry["isPlayable"] is (entry["trackType"] == "audio")
        assert entry["sliceStartTime"] > 0
    last = recorded["queries"][-1]["serverResponse"]
    assert last["fileListMode"] == "json" and len(last["fileList"]) == 4 and last["status"] == 5


def test_every_file_holds_exactly_what_its_user_published(recorded: dict) -> None:
    playlists = _playlists(recorded, 2)
    assert set(playlists) == {(uid, kind) for uid in USERS for kind in ("audio", "video")}
    for (uid, kind), playlist in playlists.items():
        sent = [p.data for p in recorded["tapes"][uid].sent if p.kind == kind]
        got = [packet for path in _slices(playlist) for packet in _demux(path)]
        position = 0  # every recorded packet is a published one, in order
        for data, _ in got:
            position = sent.index(data, position) + 1
        rate = 15 if kind == "video" else 50
        missing = (AUDIO_ON_S - AUDIO_OFF_S) if (uid, kind) == (3002, "audio") else 0
        assert len(got) > rate * (SECONDS - missing - 1), (uid, kind, len(got))
        assert np.all(np.diff([t for _, t in got]) > 0)


def test_files_decode_to_their_users_colour_and_tone(recorded: dict) -> None:
    for (uid, kind), playlist in _playlists(recorded, 2).items():
        colour, tone = LOOKS[uid]
        with av.open(str(_slices(playlist)[0])) as container:
            if kind == "video":
                frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
                middle = frames[len(frames) // 2][60:160, 40:280].reshape(-1, 3)
                assert np.abs(np.median(middle, axis=0) - colour).max() < 40, uid
                assert (frames[0].shape[1], frames[0].shape[0]) == (320, 180)
            else:
                samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
                others = [t for u, (_, t) in LOOKS.items() if u != uid]
                own = tone_strength(samples[:48_000], 48_000, tone)
                assert all(tone_strength(samples[:48_000], 48_000, t) < 0.05 * own
                           for t in others)


def test_playlists_tags_durations_and_one_clock(recorded: dict) -> None:
    starts: dict[tuple[int, str], tuple[int, float]] = {}
    for (uid, kind), playlist in _playlists(recorded, 2).items():
        text = playlist.read_text()
        assert text.startswith("#EXTM3U\n") and text.endswith("#EXT-X-ENDLIST\n")
        times = re.findall(rf"EVENT=START,TRACK_TYPE={kind.upper()},TIME=(\d{{17}})", text)
        assert len(times) == 1, (uid, kind)  # 3002's audio came back within 15 s: one segment
        slices = _slices(playlist)
        assert slices[0].name.endswith(f"_{times[0]}.ts")
        durations = [float(d) for d in re.findall(r"#EXTINF:(\d+\.\d{6}),", text)]
        assert all(d < SLICE_SECONDS + 1.1 for d in durations)
        missing = (AUDIO_ON_S - AUDIO_OFF_S) if (uid, kind) == (3002, "audio") else 0
        assert SECONDS - missing - 1 < sum(durations) < recorded["span"] - missing + 0.5, (
            uid, kind, durations, recorded["span"])
        first_pts = _demux(slices[0])[0][1]
        starts[(uid, kind)] = (int(times[0]), first_pts)
    for uid in USERS:  # the TIMEs and the pts of a user's tracks tell the same offset
        (audio_time, audio_pts), (video_time, video_pts) = starts[(uid, "audio")], starts[
            (uid, "video")]
        offset_ms = _ms(video_time) - _ms(audio_time)
        assert abs(offset_ms - (video_pts - audio_pts) * 1000) <= 2, uid


def _ms(time17: int) -> int:
    text = str(time17)
    seconds = time.mktime(time.strptime(text[:14] + "UTC", "%Y%m%d%H%M%S%Z"))
    return int(seconds) * 1000 + int(text[14:])


def test_start_time_matches_slice_start(recorded: dict) -> None:
    answer = recorded["stops"][2]["serverResponse"]
    for entry in answer["fileList"]:
        playlist = recorded["root"] / entry["fileName"]
        assert f"TIME={utc17(entry['sliceStartTime'])}" in playlist.read_text()


def test_stream_types_0_and_1_write_only_audio_or_video(recorded: dict) -> None:
    assert set(_playlists(recorded, 0)) == {(uid, "audio") for uid in USERS}
    assert set(_playlists(recorded, 1)) == {(uid, "video") for uid in USERS}
    for types, kind in ((0, "audio"), (1, "video")):
        listed = recorded["stops"][types]["serverResponse"]["fileList"]
        assert {e["trackType"] for e in listed} == {kind} and len(listed) == 2


def test_callbacks_report_each_users_streams(recorded: dict) -> None:
    sid = recorded["sessions"][2][1]
    sent = notifications(recorded["runtime"], sid)
    states = [(n["eventType"], n["payload"]["details"]["streamUid"],
               n["payload"]["details"]["state"]) for n in sent if n["eventType"] in (43, 44)]
    assert [s for s in states if s[:2] == (43, "3002")] == [(43, "3002", 0), (43, "3002", 1),
                                                           (43, "3002", 0), (43, "3002", 1)]
    assert [s for s in states if s[:2] == (44, "3001")] == [(44, "3001", 0), (44, "3001", 1)]
    assert all("UtcMs" in n["payload"]["details"] for n in sent if n["eventType"] in (43, 44))
    slices = [n["payload"]["details"] for n in sent if n["eventType"] == 42]
    assert {(d["streamUid"], d["trackType"]) for d in slices} == {
        (str(uid), kind) for uid in USERS for kind in ("audio", "video")}
    assert not any(d["mixedAllUser"] for d in slices)
    kinds = [n["eventType"] for n in sent if n["eventType"] != 33]
    assert kinds[-3:] == [41, 31, 11]


@pytest.mark.parametrize("change", [
    {"streamMode": "standard"},  # (a missing subscribeUidGroup means 0: spec decision 12)
    {"transcodingConfig": {"width": 640, "height": 360, "fps": 15, "bitrate": 500}},
    {"mp4": True},
])
def test_bad_individual_requests_get_code_2(server: Any, customers: dict, change: dict) -> None:
    secret, appid = customers["alice"]
    body, change = start_request(2), dict(change)  # the parameter is shared by both backends
    if change.pop("mp4", False):
        body["recordingFileConfig"] = {"avFileType": ["hls", "mp4"]}
    body["recordingConfig"].update(change)
    body["recordingConfig"] = {k: v for k, v in body["recordingConfig"].items() if v is not None}
    client = RecordingClient(server.url, "alice", secret, appid)
    resource = client.acquire("indbad", "900019")
    with pytest.raises(ApiCallFailed) as refused:
        client.start(resource, "indbad", "900019", body, mode="individual")
    client.close()
    assert refused.value.status == 400
    assert refused.value.body["code"] == 2 and refused.value.body["reason"]
    assert set(refused.value.body) == {"code", "reason", "cname", "uid", "resourceId"}
