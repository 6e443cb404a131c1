"""`mode/individual` (spec §5 compatibility rules, §5.1, §5.2, §7, §16): what start accepts,
what it refuses with code 2, and updateLayout refused (mix only). Error shape as §10."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cloudrec.config import recording_config

from .test_bad_input import assert_error

IDS = {"cname": "room42", "uid": "900001"}


def individual_body(**recording: Any) -> dict[str, Any]:
    config = {"channelType": 0, "streamTypes": 2, "subscribeUidGroup": 0, **recording}
    config = {k: v for k, v in config.items() if v is not None}
    return {"cname": "room42", "uid": "900001",
            "clientRequest": {"recordingConfig": config,
                              "storageConfig": {"vendor": 1, "region": 0, "bucket": "b",
                                                "accessKey": "k", "secretKey": "s"}}}


def start(api, body: dict[str, Any]) -> tuple[str, Any]:
    resource_id = api.acquire().json()["resourceId"]
    return resource_id, api.start(resource_id, body, mode="individual")


def test_individual_start_is_accepted(api, backend):
    _, response = start(api, individual_body(subscribeAudioUids=["1001"],
                                             subscribeVideoUids=["#allstream#"]))
    assert response.status_code == 200, response.text
    assert response.json()["sid"] in backend.sessions


def test_a_missing_subscribe_uid_group_means_0(api, backend):
    """Spec decision 12: Agora's community Go client drops zero values (`omitempty`), so its
    individual-mode example sends no subscribeUidGroup at all."""
    _, response = start(api, individual_body(subscribeUidGroup=None))
    assert response.status_code == 200, response.text
    assert response.json()["sid"] in backend.sessions


@pytest.mark.parametrize("change", [
    {"audioProfile": 1},
    {"transcodingConfig": {"width": 640, "height": 360, "fps": 15, "bitrate": 500}},
    {"streamMode": "standard"},
])
def test_refused_recording_config_is_code_2(api, change):
    resource_id, response = start(api, individual_body(**change))
    assert_error(response, 400, 2, resourceId=resource_id, **IDS)


@pytest.mark.parametrize("part", [
    {"recordingFileConfig": {"avFileType": ["hls", "mp4"]}},  # mp4: mix and web only
    {"snapshotConfig": {"captureInterval": 5, "fileType": ["png"]}},  # jpg only (§5.3)
    {"snapshotConfig": {"captureInterval": 0, "fileType": ["jpg"]}},  # 1..3600
    {"snapshotConfig": {"captureInterval": 5, "fileType": ["jpg"]},  # needs video
     "recordingConfig": {"streamTypes": 0, "subscribeUidGroup": 0}},
    {"snapshotConfig": {"captureInterval": 5, "fileType": ["jpg"]},  # audio list: video too
     "recordingConfig": {"streamTypes": 2, "subscribeUidGroup": 0,
                         "subscribeAudioUids": ["1"]}},
])
def test_refused_parts_are_code_2(api, part):
    body = individual_body()
    body["clientRequest"].update(part)
    resource_id, response = start(api, body)
    known = IDS if "cname" in response.json() else {}  # a field's rule: before cname/uid
    assert_error(response, 400, 2, resourceId=resource_id, **known)


@pytest.mark.parametrize("files", [False, True], ids=["snapshots-only", "record-and-snapshot"])
def test_snapshots_start_alone_or_with_recording(api, backend, files):
    """§5.3 / 2021-09: snapshotConfig alone is a snapshot-only session (no audio/video files),
    with recordingFileConfig both; the interval reaches the recording's config."""
    body = individual_body()
    body["clientRequest"]["snapshotConfig"] = {"captureInterval": 7, "fileType": ["jpg"]}
    if files:
        body["clientRequest"]["recordingFileConfig"] = {"avFileType": ["hls"]}
    _, response = start(api, body)
    assert response.status_code == 200, response.text
    session = backend.sessions[response.json()["sid"]]
    config = recording_config("sid", "app", session.request, Path("/tmp"), mode="individual")
    assert (config.snapshot_interval_s, config.record_files) == (7, files)
    assert config.av_file_types == (("hls",) if files else ())


def test_update_layout_in_individual_mode_is_code_2(api):
    resource_id, response = start(api, individual_body())
    sid = response.json()["sid"]
    url = api.session_path(resource_id, sid, "updateLayout").replace("/mode/mix/",
                                                                     "/mode/individual/")
    response = api.client.post(url, json={**IDS, "clientRequest": {"mixedVideoLayout": 1}})
    assert_error(response, 400, 2, resourceId=resource_id, sid=sid, **IDS)


def test_a_mix_body_in_individual_mode_is_code_2(api):
    resource_id = api.acquire().json()["resourceId"]
    response = api.start(resource_id, mode="individual")  # transcodingConfig, audioProfile
    assert_error(response, 400, 2, resourceId=resource_id, **IDS)


@pytest.mark.parametrize("scene,says", [(1, "scene 1 is for web page recording"),
                                        (2, "postponed transcoding is not supported yet")])
def test_individual_start_on_another_scene_says_which(api, backend, scene, says):
    """Tried: an individual start on a resourceId acquired for web page recording (scene 1)
    and for postponed transcoding (scene 2). Both code 2, each naming its own reason (a scene 1
    grant was refused as if it were postponed transcoding); nothing starts."""
    resource_id = api.acquire(scene=scene).json()["resourceId"]
    body = assert_error(api.start(resource_id, individual_body(), mode="individual"), 400, 2,
                        resourceId=resource_id, **IDS)
    assert says in body["reason"]
    assert not backend.sessions
