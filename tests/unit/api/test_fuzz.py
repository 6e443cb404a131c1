"""Random bodies at every endpoint: never a 500, always one of the two error shapes."""

from __future__ import annotations

import copy
import json
import random

import pytest

KEYS = ["cname", "uid", "clientRequest", "recordingConfig", "transcodingConfig", "width",
        "height", "fps", "bitrate", "mixedVideoLayout", "layoutConfig", "x_axis", "y_axis",
        "alpha", "render_mode", "backgroundColor", "storageConfig", "fileNamePrefix", "vendor",
        "region", "avFileType", "subscribeAudioUids", "unsubscribeVideoUids", "streamTypes",
        "decryptionMode", "secret", "salt", "privateParams", "streamSubscribe", "audioUidList",
        "resourceExpiredHour", "scene", "maxResolutionUid", "backgroundConfig", "image_url"]
SCALARS = [None, True, False, 0, 1, -1, 3, 2**32, 2**64, 1e308, -0.0, 0.5, "", "0", "1",
           "#allstream#", "#FFFFFF", "hls", "mp4", "room42", "\u0000", "\ud7ff" * 3, "x" * 300,
           "https://example.com/a.jpg", "{}", "[]"]


def random_value(rng: random.Random, depth: int = 0):
    kind = rng.random()
    if depth > 3 or kind < 0.5:
        return rng.choice(SCALARS)
    if kind < 0.75:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(KEYS): random_value(rng, depth + 1) for _ in range(rng.randrange(5))}


def mutate(rng: random.Random, value):
    """The value with one randomly chosen node replaced by a random value."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        return value | {key: mutate(rng, value[key])}
    if isinstance(value, list) and value and rng.random() < 0.8:
        i = rng.randrange(len(value))
        return value[:i] + [mutate(rng, value[i])] + value[i + 1:]
    return random_value(rng)


def random_content(rng: random.Random, valid: dict) -> bytes:
    roll = rng.random()
    if roll < 0.1:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
    if roll < 0.2:
        return json.dumps(valid).encode()[: rng.randrange(200)]
    body = random_value(rng) if roll < 0.4 else mutate(rng, copy.deepcopy(valid))
    return json.dumps(body).encode()


def assert_shaped(response):
    assert response.status_code < 500, (response.status_code, response.text)
    body = response.json()
    if response.status_code >= 300 or "code" in body:
        assert isinstance(body.get("code"), int) or set(body) == {"message"}, body


@pytest.mark.parametrize("call", ["acquire", "start", "update", "updateLayout", "stop"])
def test_random_bodies_never_fail_the_server(api, call):
    rng = random.Random(call)
    headers = {"Content-Type": "application/json"}
    resource_id, sid = api.running()
    for _ in range(150):
        url, valid = target(api, call, resource_id, sid)
        response = api.client.post(url, content=random_content(rng, valid), headers=headers)
        assert_shaped(response)


def target(api, call, resource_id, sid):
    channel = {"cname": "room42", "uid": "900001", "clientRequest": {}}
    if call == "acquire":
        return f"{api.prefix()}/acquire", channel
    if call == "start":
        fresh = api.acquire(uid="1").json()["resourceId"]  # a fresh recorder every time
        return f"{api.prefix()}/resourceid/{fresh}/mode/mix/start", api.start_body(uid="1")
    return api.session_path(resource_id, sid, call), channel


def test_random_path_segments_never_fail_the_server(api):
    rng = random.Random(7)
    resource_id, sid = api.running()
    for _ in range(200):
        segments = [resource_id, sid, "mix", "%00", "..", "x" * 3000, "%ff", "0" * 32]
        url = api.session_path(rng.choice(segments), rng.choice(segments), "query")
        url = url.replace("/mode/mix/", f"/mode/{rng.choice(segments)}/")
        assert_shaped(api.client.get(url))
