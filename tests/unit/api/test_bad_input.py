"""Bad bodies: exact status, service code and error-body shape (spec §1.3, §10, §11)."""

from __future__ import annotations

import copy
import json

import pytest

from .names import LEGAL_CHARACTERS, LEGAL_CNAMES


def assert_error(response, status, code, **ids):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["reason"], str) and body["reason"]
    assert set(body) == {"code", "reason", *ids}
    for name, value in ids.items():
        assert body[name] == value
    return body


def test_malformed_json_is_code_8(api):
    response = api.client.post(f"{api.prefix()}/acquire", content=b'{"cname": "room42",',
                               headers={"Content-Type": "application/json"})

    assert_error(response, 400, 8)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "application/json;charset=latin-1"])
def test_wrong_content_type_is_code_8(api, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    content = b'{"cname":"room42","uid":"900001","clientRequest":{}}'

    response = api.client.post(f"{api.prefix()}/acquire", content=content, headers=headers)

    assert_error(response, 400, 8)


def test_json_that_is_not_an_object_is_code_2(api):
    response = api.client.post(f"{api.prefix()}/acquire", json=[1, 2])

    assert_error(response, 400, 2)


@pytest.mark.parametrize("body", [
    {"uid": "900001", "clientRequest": {}},
    {"cname": "room42", "clientRequest": {}},
    {"cname": "room42", "uid": "900001"},
    {"cname": "room42", "uid": "0", "clientRequest": {}},
    {"cname": "room42", "uid": "abc", "clientRequest": {}},
    {"cname": "room42", "uid": "4294967296", "clientRequest": {}},
    {"cname": "room42", "uid": 900001, "clientRequest": {}},
    {"cname": "room42", "uid": "900001", "clientRequest": {"resourceExpiredHour": 721}},
    {"cname": "room42", "uid": "900001", "clientRequest": {"scene": 3}},
    {"cname": "room42", "uid": "900001", "clientRequest": {"region": "MARS"}},
])
def test_acquire_with_missing_or_out_of_range_fields_is_code_2(api, body):
    response = api.client.post(f"{api.prefix()}/acquire", json=body)

    assert_error(response, 400, 2)


@pytest.mark.parametrize("cname", ["room/42", "room*42", "", "x" * 65, "caf\u00e9"])
def test_bad_channel_name_is_code_1013(api, cname):
    assert_error(api.acquire(cname=cname), 400, 1013)


def test_every_character_the_spec_allows_is_accepted_in_a_channel_name(api):
    assert len(set(LEGAL_CHARACTERS)) == 89 and set("".join(LEGAL_CNAMES)) == set(LEGAL_CHARACTERS)
    for cname in LEGAL_CNAMES:
        assert len(cname.encode()) <= 64
        assert api.acquire(cname=cname).status_code == 200


def test_web_scene_takes_a_free_label_as_channel_name(api):
    assert api.acquire(cname="my page / 1", scene=1).status_code == 200


def start_with(api, path, value):
    """Start with one field of the §5.7 body replaced (``value`` None deletes it)."""
    body = copy.deepcopy(api.start_body())
    *parents, last = path
    target = body["clientRequest"]
    for key in parents:
        target = target[key]
    if value is None:
        del target[last]
    else:
        target[last] = value
    resource_id = api.acquire().json()["resourceId"]
    return resource_id, api.start(resource_id, body)


TRANSCODING = ("recordingConfig", "transcodingConfig")
BAD_START_FIELDS = {
    "width 4000": (TRANSCODING + ("width",), 4000),
    "pixels over 1080p": (TRANSCODING + ("height",), 1920),
    "bitrate 7000": (TRANSCODING + ("bitrate",), 7000),
    "odd width": (TRANSCODING + ("width",), 641),  # accepted once, then the recorder died
    "1 pixel high": (TRANSCODING + ("height",), 1),
    "fps missing": (TRANSCODING + ("fps",), None),
    "layout 3 without layoutConfig": (TRANSCODING + ("layoutConfig",), None),
    "layoutConfig with layout 1": (TRANSCODING + ("mixedVideoLayout",), 1),
    "x+w over 1": (TRANSCODING + ("layoutConfig",),
                   [{"x_axis": 0.5, "y_axis": 0, "width": 0.6, "height": 1}]),
    "18 regions": (TRANSCODING + ("layoutConfig",),
                   [{"x_axis": 0, "y_axis": 0, "width": 0.1, "height": 0.1}] * 18),
    "bad backgroundColor": (TRANSCODING + ("backgroundColor",), "#12345G"),
    "mp4 without hls": (("recordingFileConfig", "avFileType"), ["mp4"]),
    "maxIdleTime 4": (("recordingConfig", "maxIdleTime"), 4),
    "streamTypes true": (("recordingConfig", "streamTypes"), True),
    "width as a string": (TRANSCODING + ("width",), "640"),
    "allow and deny audio": (("recordingConfig", "unSubscribeAudioUids"), ["7"]),
    "33 video uids": (("recordingConfig", "subscribeVideoUids"), [str(i) for i in range(1, 34)]),
    "empty video list": (("recordingConfig", "subscribeVideoUids"), []),
    "video list with audio only": (("recordingConfig", "streamTypes"), 0),
    "prefix with slash": (("storageConfig", "fileNamePrefix"), ["rec/room42"]),
    "prefix over 128": (("storageConfig", "fileNamePrefix"), ["a" * 64, "b" * 64]),
    "unknown vendor": (("storageConfig", "vendor"), 9),
    "decryption without secret": (("recordingConfig", "decryptionMode"), 1),
    "no recordingConfig": (("recordingConfig",), None),
    "snapshot in mix": (("snapshotConfig",), {"captureInterval": 10, "fileType": ["jpg"]}),
    # oversized or unknown fields that used to be copied into every RecordingStarted
    "100 KB object tag": (("storageConfig", "extensionParams"), {"tag": "k=" + "v" * 100_000}),
    "11 object tags": (("storageConfig", "extensionParams"),
                       {"tag": "&".join(f"k{i}=v" for i in range(11))}),
    "object tag not key=value": (("storageConfig", "extensionParams"), {"tag": "just-text"}),
    "object tag key twice": (("storageConfig", "extensionParams"), {"tag": "k=1&k=2"}),
    "appsCollection extra 100 KB": (("appsCollection",), {"combinationPolicy": "default",
                                                          "notes": "x" * 100_000}),
    "appsCollection bad policy": (("appsCollection",), {"combinationPolicy": "later"}),
    "privateParams unknown knob": (("recordingConfig", "privateParams"), '{"speed": 2}'),
    "privateParams correctEXTINF false": (("recordingConfig", "privateParams"),
                                          '{"correctEXTINF": false}'),
    "privateParams padded to 100 KB": (("recordingConfig", "privateParams"),
                                       '{"correctEXTINF": true' + " " * 100_000 + "}"),
}


@pytest.mark.parametrize("path,value", BAD_START_FIELDS.values(), ids=BAD_START_FIELDS.keys())
def test_start_with_an_invalid_field_is_code_2(api, path, value):
    resource_id, response = start_with(api, path, value)

    # rules inside the body are found before the body's cname/uid are known
    known = {"cname": "room42", "uid": "900001"} if "cname" in response.json() else {}
    body = assert_error(response, 400, 2, resourceId=resource_id, **known)
    assert "SK" not in body["reason"]


def test_nonstandard_fps_falls_back_to_15(api, backend):
    _, response = start_with(api, TRANSCODING + ("fps",), 9)

    sid = response.json()["sid"]
    assert backend.sessions[sid].request.client_request.recording_config.transcoding.fps == 15


def test_start_without_transcoding_config_uses_the_defaults(api, backend):
    _, response = start_with(api, TRANSCODING, None)

    transcoding = backend.sessions[response.json()["sid"]].request.client_request \
        .recording_config.transcoding
    assert (transcoding.width, transcoding.height, transcoding.fps, transcoding.bitrate,
            transcoding.mixed_video_layout, transcoding.background_color) == \
        (360, 640, 15, 500, 0, "#000000")


@pytest.mark.parametrize("mode", ["web", "bogus"])
def test_modes_other_than_mix_are_code_2(api, mode):
    resource_id = api.acquire().json()["resourceId"]

    response = api.start(resource_id, mode=mode)

    assert_error(response, 400, 2, resourceId=resource_id)


def test_update_layout_body_errors_are_code_1028(api):
    resource_id, sid = api.running()
    url = api.session_path(resource_id, sid, "updateLayout")
    bad = [{"mixedVideoLayout": 3}, {"backgroundColor": "red"}, {"mixedVideoLayout": 4},
           {"mixedVideoLayout": 3, "layoutConfig": [{"x_axis": 0.5, "y_axis": 0, "width": 0.6,
                                                      "height": 1}]}]
    for client_request in bad:
        body = {"cname": "room42", "uid": "900001", "clientRequest": client_request}
        response = api.client.post(url, json=body)
        assert_error(response, 400, 1028, cname="room42", uid="900001", resourceId=resource_id,
                     sid=sid)


def test_update_layout_non_json_is_still_code_8(api):
    resource_id, sid = api.running()

    response = api.client.post(api.session_path(resource_id, sid, "updateLayout"),
                               content=b"nope", headers={"Content-Type": "application/json"})

    assert_error(response, 400, 8, cname="room42", uid="900001", resourceId=resource_id, sid=sid)


def test_oversized_body_is_refused_by_the_gateway(api, settings):
    content = b'{"cname":"' + b"x" * settings.max_body_bytes + b'"}'

    response = api.client.post(f"{api.prefix()}/acquire", content=content,
                               headers={"Content-Type": "application/json"})

    assert response.status_code == 413
    assert response.json() == {"message": "Request size limit exceeded"}


def test_a_chunked_body_over_the_limit_is_refused_while_it_is_read(api, settings):
    """No Content-Length: the body is counted as it arrives, not buffered whole first."""

    def chunks():
        for _ in range(settings.max_body_bytes // 1024 + 64):
            yield b"x" * 1024

    response = api.client.post(f"{api.prefix()}/acquire", content=chunks(),
                               headers={"Content-Type": "application/json"})

    assert response.status_code == 413
    assert response.json() == {"message": "Request size limit exceeded"}


def test_deeply_nested_private_params_are_code_2_not_500(api):
    """Tried: privateParams holding 100,000 nested brackets (json.loads: RecursionError)."""
    resource_id, response = start_with(api, ("recordingConfig", "privateParams"),
                                       "[" * 100_000 + "]" * 100_000)
    assert_error(response, 400, 2, resourceId=resource_id)


def test_the_largest_accepted_start_is_a_small_event(api, backend):
    """Every free-form field at its largest accepted size: start is accepted and what goes
    into the session's RecordingStarted (the secret-free config) stays under 64 KB."""
    regions = [{"uid": str(i), "x_axis": 0, "y_axis": 0, "width": 0.1, "height": 0.1}
               for i in range(1, 18)]
    body = api.start_body()
    config = body["clientRequest"]
    config["recordingConfig"]["transcodingConfig"].update(layoutConfig=regions)
    config["recordingConfig"].update(
        subscribeVideoUids=[str(i) for i in range(1, 33)],
        privateParams='{"correctEXTINF": true' + " " * 990 + "}")
    config["storageConfig"].update(
        fileNamePrefix=["a" * 64, "b" * 63],
        extensionParams={"tag": "&".join(f"{'k' * 126}{i:02}={'v' * 256}" for i in range(10))})
    config["appsCollection"] = {"combinationPolicy": "default"}
    resource_id = api.acquire().json()["resourceId"]

    response = api.start(resource_id, body)

    assert response.status_code == 200, response.text
    (session,) = backend.sessions.values()
    assert len(json.dumps(session.request.public_config())) < 64_000


def test_null_private_params_is_absent_not_500(api):
    """Found by the schemathesis fuzzer: `"privateParams": null` reached json.loads(None)."""
    body = api.start_body()
    body["clientRequest"]["recordingConfig"]["privateParams"] = None

    response = api.start(api.acquire().json()["resourceId"], body)

    assert response.status_code == 200, response.text


def test_null_object_tag_is_absent_not_500(api):
    """Found by the schemathesis fuzzer in CI: `"extensionParams": {"tag": null}` reached
    len(None) in the tag check."""
    body = api.start_body()
    body["clientRequest"]["storageConfig"]["extensionParams"] = {"tag": None, "sse": None}

    response = api.start(api.acquire().json()["resourceId"], body)

    assert response.status_code == 200, response.text


UPDATE_LISTS = {
    "33 audio uids": {"audioUidList": {"subscribeAudioUids": [str(i) for i in range(1, 34)]}},
    "empty video list": {"videoUidList": {"subscribeVideoUids": []}},
    "allow and deny video": {"videoUidList": {"subscribeVideoUids": ["1"],
                                              "unSubscribeVideoUids": ["2"]}},
    "uid 0": {"audioUidList": {"unsubscribeAudioUids": ["0"]}},
    "not a uid": {"audioUidList": {"subscribeAudioUids": ["alice"]}},
}


@pytest.mark.parametrize("lists", UPDATE_LISTS.values(), ids=UPDATE_LISTS.keys())
def test_update_with_lists_against_the_rules_is_code_2(api, backend, lists):
    """Tried: every §6/§11 list rule broken once; the recorder's lists stay as they were."""
    resource_id, sid = api.running()
    body = {"cname": "room42", "uid": "900001", "clientRequest": {"streamSubscribe": lists}}

    response = api.client.post(api.session_path(resource_id, sid, "update"), json=body)

    assert_error(response, 400, 2, resourceId=resource_id, sid=sid, cname="room42", uid="900001")
    assert backend.sessions[sid].updates == []
