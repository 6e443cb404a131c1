"""Encrypted media, end to end (issue 12 point 4): a publisher seals its packets with
AES_256_GCM2 (decryptionMode 8, as `cloudrec publish --encryption-mode 8` does) and two
recordings of its channel run through the REST API at once: a mix started with the right
secret and salt, an individual recording started with a wrong secret.

What is checked: the mix decodes to the publisher's colour and tone, without warnings; the
wrong key gives warning callbacks (event 2, warnCode 103, per track of the user) and no file
at all, and both sessions end normally; the key file exists (0600) while the sessions run and is
gone after; neither the secret nor the salt appears in the event log (its events and its store
files), the callbacks, the `query` and `stop` answers, or Ray's logs.
"""

from __future__ import annotations

import base64
import stat
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import ray

from cloudrec.actors.channel.encryption import MediaKey
from cloudrec.actors.channel.handle import ChannelHandle
from cloudrec.actors.channel.publisher import EncryptedSource
from cloudrec.actors.channel.synthetic import SyntheticPublisher
from cloudrec.actors.layout.geometry import PixelRect
from cloudrec.client import RecordingClient
from cloudrec.projections import callbacks
from cloudrec.runtime import Runtime

from .media import Feeds, colour_at, decode, tone_strength

pytestmark = [pytest.mark.integration, pytest.mark.slow,
              pytest.mark.parametrize("runtime", ["embedded"], indirect=True)]

UID, FPS, RECORD_S, COLOUR, TONE = 7001, 15, 6.0, (40, 90, 220), 660.0
SECRET, WRONG = "media-secret-never-logged-31337", "wrong-secret-never-logged-4242"
SALT = base64.b64encode(b"salt of 32 bytes, never logged!!").decode()


def start(client: RecordingClient, cname: str, uid: str, mode: str, prefix: str,
          secret: str) -> tuple[str, str]:
    storage = {"vendor": 1, "region": 0, "bucket": "b", "accessKey": "local",
               "secretKey": "local", "fileNamePrefix": [prefix]}
    config: dict[str, Any] = {"streamTypes": 2, "channelType": 0, "decryptionMode": 8,
                              "secret": secret, "salt": SALT}
    if mode == "mix":
        config["transcodingConfig"] = {"width": 320, "height": 240, "fps": FPS,
                                       "bitrate": 400, "mixedVideoLayout": 1}
    else:
        config["subscribeUidGroup"] = 0
    body: dict[str, Any] = {"recordingConfig": config, "storageConfig": storage}
    if mode == "mix":
        body["recordingFileConfig"] = {"avFileType": ["hls", "mp4"]}
    resource = client.acquire(cname, uid)
    return resource, client.start(resource, cname, uid, body, mode=mode)


@pytest.fixture(scope="module")
def recorded(runtime: Runtime, server: Any, customers: dict[str, tuple[str, str]]
             ) -> dict[str, Any]:
    secret, appid = customers["alice"]
    client = RecordingClient(server.url, "alice", secret, appid)
    cname, tag = f"sealed{int(time.time())}", f"{time.time_ns()}"
    feeds = Feeds(ChannelHandle(runtime.get_channel(appid, cname)))
    key = MediaKey.from_text(8, SECRET, SALT)
    feeds.add(UID, EncryptedSource(SyntheticPublisher(UID, COLOUR, TONE, fps=FPS), key))
    mix = start(client, cname, "900061", "mix", f"mix{tag}", SECRET)
    individual = start(client, cname, "900062", "individual", f"ind{tag}", WRONG)
    time.sleep(RECORD_S)
    key_files = {p.stem: stat.S_IMODE(p.stat().st_mode)
                 for p in (runtime.settings.workdir / ".keys").glob("*.json")}
    answers = [client.query(*mix, mode="mix"), client.query(*individual, mode="individual"),
               client.stop(*mix, cname, "900061", mode="mix"),
               client.stop(*individual, cname, "900062", mode="individual")]
    feeds.close()
    client.close()
    root = Path(runtime.settings.storage_url.removeprefix("file://"))
    notices = {mode: callbacks.notifications(runtime.events.read_stream(sid), sid)
               for mode, (_, sid) in {"mix": mix, "individual": individual}.items()}
    return {"mix": root / f"mix{tag}", "individual": root / f"ind{tag}", "notices": notices,
            "answers": answers, "key_files": key_files, "sids": [mix[1], individual[1]]}


def test_the_right_key_records_the_publisher(recorded: dict[str, Any]) -> None:
    mp4 = decode(next(recorded["mix"].rglob("*.mp4")))
    assert mp4.video_seconds > RECORD_S - 2
    frame = mp4.frame_at(mp4.video_seconds - 1)
    centre = colour_at(frame, PixelRect(0, 0, mp4.width, mp4.height))
    assert np.abs(centre - COLOUR).max() < 40
    second = mp4.audio[-2 * mp4.sample_rate : -mp4.sample_rate]
    assert tone_strength(second, mp4.sample_rate, TONE) > 50 * tone_strength(
        second, mp4.sample_rate, 1500.0)
    assert not [n for n in recorded["notices"]["mix"] if n["eventType"] in (1, 2)]


def test_a_wrong_key_warns_per_track_and_writes_no_file(recorded: dict[str, Any]) -> None:
    notices = recorded["notices"]["individual"]
    warnings = [n["payload"]["details"] for n in notices if n["eventType"] == 2]
    assert {(w["streamUid"], w["trackType"], w["warnCode"]) for w in warnings} == {
        (str(UID), "audio", 103), (str(UID), "video", 103)}
    assert all(w["problems"] == ["undecryptable"] for w in warnings)
    assert 11 in [n["eventType"] for n in notices]  # the session exited normally
    files = [p for p in recorded["individual"].rglob("*") if p.is_file()]
    assert files == []


def test_key_files_are_private_and_go_with_their_sessions(runtime: Runtime,
                                                          recorded: dict[str, Any]) -> None:
    for sid in recorded["sids"]:
        assert recorded["key_files"][sid] == 0o600
        assert not (runtime.settings.workdir / ".keys" / f"{sid}.json").exists()
    assert stat.S_IMODE((runtime.settings.workdir / ".keys").stat().st_mode) == 0o700


def test_the_secret_and_salt_appear_nowhere(runtime: Runtime, recorded: dict[str, Any]) -> None:
    places: dict[str, str] = {}
    position, dumps = 0, []
    while batch := runtime.events.read_all(after=position, limit=5000):
        position = batch[-1][0]
        dumps += [event.model_dump_json() for _, event in batch]
    places["events"] = "\n".join(dumps)
    db = Path(runtime.settings.events_url.removeprefix("sqlite:///"))
    places["event store files"] = "".join(
        p.read_bytes().decode("latin-1") for p in db.parent.glob(db.name + "*"))
    places["callbacks"] = repr(recorded["notices"])
    places["query and stop answers"] = repr(recorded["answers"])
    session = Path(ray._private.worker._global_node.get_session_dir_path())  # noqa: SLF001
    places["ray logs"] = "".join(p.read_bytes().decode("latin-1")
                                 for p in (session / "logs").rglob("*") if p.is_file())
    assert '"decryptionMode":8' in places["events"].replace(" ", "")
    for where, text in places.items():
        for secret in (SECRET, WRONG, SALT):
            assert secret not in text, f"a decryption secret appears in the {where}"

