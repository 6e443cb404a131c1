"""Background images (spec §5.1, §7): accepted in `start` and `updateLayout` as http(s) URLs and
carried into the layout the recorder paints; any other scheme is refused."""

from __future__ import annotations

import pytest

from cloudrec.config import layout_of

from .test_bad_input import TRANSCODING, assert_error, start_with

IMAGES = {"backgroundImage": "https://images.example/canvas.jpg",
          "defaultUserBackgroundImage": "http://images.example/user.bmp",
          "backgroundConfig": [{"uid": "7", "image_url": "https://images.example/7.jpg",
                                "render_mode": 1}]}


def test_start_accepts_the_images_and_the_layout_carries_them(api, backend):
    transcoding = {**api.start_body()["clientRequest"]["recordingConfig"]["transcodingConfig"],
                   **IMAGES}

    _, response = start_with(api, TRANSCODING, transcoding)

    assert response.status_code == 200, response.text
    request = backend.sessions[response.json()["sid"]].request
    layout = layout_of(request.client_request.recording_config.transcoding)
    assert layout.background_image == "https://images.example/canvas.jpg"
    assert layout.default_user_background_image == "http://images.example/user.bmp"
    assert layout.user_background(7).model_dump() == {
        "uid": 7, "image_url": "https://images.example/7.jpg", "render_mode": 1}
    assert layout.image_urls() == ["https://images.example/canvas.jpg",
                                   "http://images.example/user.bmp",
                                   "https://images.example/7.jpg"]


def test_update_layout_accepts_the_images(api, backend):
    resource_id, sid = api.running()
    body = {"cname": "room42", "uid": "900001", "clientRequest": {"mixedVideoLayout": 1,
                                                                  **IMAGES}}

    response = api.client.post(api.session_path(resource_id, sid, "updateLayout"), json=body)

    assert response.status_code == 200, response.text
    layout = layout_of(backend.sessions[sid].layouts[-1].client_request)
    assert layout.background_image == IMAGES["backgroundImage"]


@pytest.mark.parametrize("url", ["ftp://images.example/a.jpg", "file:///etc/passwd",
                                 "images.example/a.jpg", "javascript:alert(1)"])
def test_other_schemes_are_refused(api, url):
    transcoding = {**api.start_body()["clientRequest"]["recordingConfig"]["transcodingConfig"],
                   "backgroundImage": url}
    resource_id, response = start_with(api, TRANSCODING, transcoding)
    assert_error(response, 400, 2, resourceId=resource_id)  # found before cname/uid are read

    resource_id, sid = api.running()
    body = {"cname": "room42", "uid": "900001",
            "clientRequest": {"backgroundConfig": [{"uid": "1", "image_url": url}]}}
    response = api.client.post(api.session_path(resource_id, sid, "updateLayout"), json=body)
    assert_error(response, 400, 1028, cname="room42", uid="900001", resourceId=resource_id,
                 sid=sid)
