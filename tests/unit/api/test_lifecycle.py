"""The happy path of spec §2.2: acquire → start → query → update/updateLayout → stop."""

from __future__ import annotations

import re


def test_acquire_answers_an_opaque_url_safe_resource_id(api):
    response = api.acquire(resourceExpiredHour=24, scene=0)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"resourceId", "cname", "uid"}
    assert (body["cname"], body["uid"]) == ("room42", "900001")
    assert re.fullmatch(r"[A-Za-z0-9_-]{100,400}", body["resourceId"])
    assert "room42" not in body["resourceId"]


def test_acquire_accepts_an_empty_client_request(api):
    assert api.acquire().status_code == 200


def test_start_answers_resource_sid_cname_uid(api, backend):
    resource_id = api.acquire().json()["resourceId"]

    response = api.start(resource_id)

    assert response.status_code == 200
    body = response.json()
    assert body == {"resourceId": resource_id, "sid": body["sid"], "cname": "room42",
                    "uid": "900001"}
    assert re.fullmatch(r"[0-9a-f]{32}", body["sid"])
    session = backend.sessions[body["sid"]]
    transcoding = session.request.client_request.recording_config.transcoding
    assert (transcoding.width, transcoding.height, transcoding.mixed_video_layout) == (1280, 720, 3)


def test_backend_runs_off_the_event_loop(api, backend):
    api.running()

    assert backend.threads and "MainThread" not in backend.threads


def test_query_answers_the_backend_server_response(api):
    resource_id, sid = api.running()

    response = api.client.get(api.session_path(resource_id, sid, "query"))

    assert response.status_code == 200
    assert response.json() == {
        "resourceId": resource_id, "sid": sid,
        "serverResponse": {"status": 5, "fileListMode": "string",
                           "fileList": f"{sid}_room42.m3u8", "sliceStartTime": 1619172632080},
    }


def test_update_layout_passes_the_whole_layout(api, backend):
    resource_id, sid = api.running()
    body = {"cname": "room42", "uid": "900001",
            "clientRequest": {"mixedVideoLayout": 1, "backgroundColor": "#FF0000"}}

    response = api.client.post(api.session_path(resource_id, sid, "updateLayout"), json=body)

    assert response.status_code == 200
    assert response.json() == {"resourceId": resource_id, "sid": sid}
    layout = backend.sessions[sid].layouts[-1].client_request
    assert (layout.mixed_video_layout, layout.background_color) == (1, "#FF0000")
    assert layout.layout_config is None


def test_update_layout_accepts_integer_coordinates(api):
    resource_id, sid = api.running()
    region = {"x_axis": 0, "y_axis": 0, "width": 1, "height": 1}
    body = {"cname": "room42", "uid": "900001",
            "clientRequest": {"mixedVideoLayout": 3, "layoutConfig": [region]}}

    response = api.client.post(api.session_path(resource_id, sid, "updateLayout"), json=body)

    assert response.status_code == 200


def test_update_replaces_subscription_lists_in_either_spelling(api, backend):
    resource_id, sid = api.running()
    subscribe = {"audioUidList": {"subscribeAudioUids": ["#allstream#"]},
                 "videoUidList": {"unsubscribeVideoUids": ["444", "555"]}}
    body = {"cname": "room42", "uid": "900001", "clientRequest": {"streamSubscribe": subscribe}}

    response = api.client.post(api.session_path(resource_id, sid, "update"), json=body)

    assert response.status_code == 200
    assert response.json() == {"resourceId": resource_id, "sid": sid}
    lists = backend.sessions[sid].updates[-1].client_request.stream_subscribe
    assert lists.video_uid_list.unsubscribe_video_uids == ["444", "555"]


def test_stop_answers_the_backend_server_response(api):
    resource_id, sid = api.running()
    body = {"cname": "room42", "uid": "900001", "clientRequest": {}}

    response = api.client.post(api.session_path(resource_id, sid, "stop"), json=body)

    assert response.status_code == 200
    assert response.json() == {
        "resourceId": resource_id, "sid": sid,
        "serverResponse": {"fileListMode": "string", "fileList": f"{sid}_room42.m3u8",
                           "uploadingStatus": "uploaded"},
    }


def test_content_type_with_charset_in_any_case_is_accepted(api):
    content = b'{"cname":"room42","uid":"900001","clientRequest":{}}'
    headers = {"Content-Type": "Application/JSON; charset=UTF-8"}

    response = api.client.post(f"{api.prefix()}/acquire", content=content, headers=headers)

    assert response.status_code == 200
