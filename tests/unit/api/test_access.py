"""resourceId checks, session identity, credentials, App ID isolation, routes and rate limit."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from cloudrec.api.app import create_app
from cloudrec.api.settings import ApiSettings

OTHER_SID = "0" * 32


def error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["code"], type(body["reason"])) == (code, str)
    return body


def channel(call_body=None):
    return {"cname": "room42", "uid": "900001", "clientRequest": call_body or {}}


@pytest.mark.parametrize("resource_id", ["garbage", "A" * 300, "%%%%", "x" * 5000])
def test_unreadable_resource_id_is_code_1001(api, resource_id):
    body = error(api.start(resource_id), 400, 1001)

    assert body == {"cname": "room42", "uid": "900001", "resourceId": resource_id,
                    "code": 1001, "reason": body["reason"]}


def test_tampered_resource_id_is_code_1001(api):
    resource_id = api.acquire().json()["resourceId"]
    flipped = resource_id[:40] + ("A" if resource_id[40] != "A" else "B") + resource_id[41:]

    error(api.start(flipped), 400, 1001)


@pytest.mark.parametrize("cname,uid", [("room43", "900001"), ("room42", "900002")])
def test_resource_for_another_channel_or_uid_is_code_432(api, cname, uid):
    resource_id = api.acquire(cname, uid).json()["resourceId"]

    body = error(api.start(resource_id), 400, 432)

    assert (body["cname"], body["uid"], body["resourceId"]) == ("room42", "900001", resource_id)


def test_resource_older_than_five_minutes_is_code_433(api, clock):
    resource_id = api.acquire().json()["resourceId"]
    clock.now += 301

    error(api.start(resource_id), 400, 433)


def test_resource_just_inside_five_minutes_starts(api, clock):
    resource_id = api.acquire().json()["resourceId"]
    clock.now += 299

    assert api.start(resource_id).status_code == 200


def test_reused_resource_is_code_7_with_http_201(api):
    resource_id = api.acquire().json()["resourceId"]
    api.start(resource_id)

    body = error(api.start(resource_id), 201, 7)

    assert body["resourceId"] == resource_id


def other_spellings(resource_id: str) -> list[str]:
    """What base64 decoding forgives: padding, the standard alphabet's `+` (its `/` cannot be
    in a URL path) and the unused low bits of the last character."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    spare_bits = {2: 4, 3: 2}[len(resource_id) % 4]
    last = alphabet.index(resource_id[-1])
    spellings = [resource_id + "=" * (-len(resource_id) % 4),
                 resource_id.replace("-", "+"),
                 resource_id[:-1] + alphabet[last ^ ((1 << spare_bits) - 1)]]
    return [s for s in spellings if s != resource_id]


def test_every_spelling_of_a_used_resource_is_code_7(api, backend):
    """Tried: a resourceId already started, sent again padded, in the standard alphabet and
    with its last character's spare bits flipped: each is code 7, and no second session was
    started."""
    for _ in range(60):  # a token with a `-` and spare bits (a try misses with p ~ 0.4)
        resource_id = api.acquire(uid=str(900_100 + _)).json()["resourceId"]
        if "-" in resource_id and len(resource_id) % 4:
            break
    body = api.start(resource_id, api.start_body(uid=str(900_100 + _)))
    assert body.status_code == 200, body.text
    spellings = other_spellings(resource_id)

    assert len(spellings) == 3
    for spelling in spellings:
        error(api.start(spelling, api.start_body(uid=str(900_100 + _))), 201, 7)
    assert len(backend.sessions) == 1


def test_another_spelling_reaches_the_running_session(api):
    """query and stop with a padded spelling act on the session started with the plain one."""
    resource_id, sid = api.running()
    padded = resource_id + "=" * (-len(resource_id) % 4)
    if padded == resource_id:  # no padding to add: the standard alphabet's `+` then
        padded = resource_id.replace("-", "+")

    assert api.client.get(api.session_path(padded, sid, "query")).status_code == 200
    assert api.client.post(api.session_path(padded, sid, "stop"),
                           json={"cname": "room42", "uid": "900001",
                                 "clientRequest": {}}).status_code == 200


def test_same_recorder_started_twice_is_code_53(api):
    api.running()
    resource_id = api.acquire().json()["resourceId"]

    error(api.start(resource_id), 400, 53)


def test_unknown_sid_is_404_with_identifiers(api):
    resource_id, _ = api.running()

    response = api.client.get(api.session_path(resource_id, OTHER_SID, "query"))

    body = error(response, 404, 404)
    assert body == {"cname": "room42", "uid": "900001", "resourceId": resource_id,
                    "sid": OTHER_SID, "code": 404, "reason": "failed to find worker"}


def test_malformed_sid_is_404(api):
    resource_id, _ = api.running()

    error(api.client.get(api.session_path(resource_id, "not-a-sid", "query")), 404, 404)


def test_calls_after_stop_are_404_and_a_second_stop_is_49(api):
    resource_id, sid = api.running()
    stop = api.session_path(resource_id, sid, "stop")
    api.client.post(stop, json=channel())

    error(api.client.get(api.session_path(resource_id, sid, "query")), 404, 404)
    error(api.client.post(stop, json=channel()), 400, 49)


def test_stop_naming_another_uid_is_code_432(api):
    resource_id, sid = api.running()

    body = {"cname": "room42", "uid": "12", "clientRequest": {}}
    error(api.client.post(api.session_path(resource_id, sid, "stop"), json=body), 400, 432)


@pytest.fixture
def bob(backend, settings, api) -> TestClient:
    return TestClient(create_app(backend, settings), headers=api.basic(api.bob))


def bob_session(api, bob):
    url = f"{api.prefix(api.app_b)}/acquire"
    resource_id = bob.post(url, json=channel()).json()["resourceId"]
    start = f"{api.prefix(api.app_b)}/resourceid/{resource_id}/mode/mix/start"
    sid = bob.post(start, json=api.start_body()).json()["sid"]
    return resource_id, sid


def test_another_apps_resource_and_sid_are_code_1003(api, bob):
    resource_id, sid = bob_session(api, bob)

    error(api.client.get(api.session_path(resource_id, sid, "query")), 400, 1003)


def test_another_apps_sid_with_own_resource_is_code_1003(api, bob):
    _, bob_sid = bob_session(api, bob)
    resource_id, _ = api.running()

    error(api.client.get(api.session_path(resource_id, bob_sid, "query")), 400, 1003)


def test_another_apps_resource_at_start_is_code_432(api, bob):
    url = f"{api.prefix(api.app_b)}/acquire"
    resource_id = bob.post(url, json=channel()).json()["resourceId"]

    error(api.start(resource_id), 400, 432)


def test_credentials_cannot_reach_another_customers_app(api, bob):
    resource_id, sid = bob_session(api, bob)

    calls = [api.client.post(f"{api.prefix(api.app_b)}/acquire", json=channel()),
             api.client.get(api.session_path(resource_id, sid, "query", api.app_b)),
             api.client.post(api.session_path(resource_id, sid, "stop", api.app_b),
                             json=channel())]

    for response in calls:
        assert (response.status_code, response.json()) == (400, {"message": "invalid appid"})


@pytest.mark.parametrize("header", [None, "Basic", "Basic !!!", "Bearer abc",
                                    "Basic " + base64.b64encode(b"alice:wrong").decode(),
                                    "Basic " + base64.b64encode(b"alice").decode(),
                                    "Basic " + base64.b64encode(b"nobody:x").decode()])
def test_wrong_credentials_are_401(backend, settings, api, header):
    client = TestClient(create_app(backend, settings))
    headers = {"Authorization": header} if header else {}

    response = client.post(f"{api.prefix()}/acquire", json=channel(), headers=headers)

    assert (response.status_code, response.json()) == \
        (401, {"message": "Invalid authentication credentials"})
    assert response.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize("method,path", [
    ("GET", "/acquire"), ("PUT", "/acquire"),
    ("POST", "/resourceid/r/sid/" + OTHER_SID + "/mode/mix/query"),
    ("GET", "/resourceid/r/sid/" + OTHER_SID + "/mode/mix/stop"),
])
def test_wrong_method_on_a_known_path_is_code_8(api, method, path):
    response = api.client.request(method, api.prefix() + path)

    error(response, 400, 8)


@pytest.mark.parametrize("path", ["/", "/v1/apps/x/cloud_recording/nothing",
                                  "/v1/apps/x/cloud_recording/acquire/",
                                  "/v2/apps/x/cloud_recording/acquire"])
def test_unknown_route_is_the_gateway_404(api, path):
    response = api.client.post(path, json=channel())

    assert (response.status_code, response.json()) == \
        (404, {"message": "no Route matched with those values"})


def test_path_without_cloud_recording_is_code_8(api):
    error(api.client.post(f"/v1/apps/{api.app_a}/acquire", json=channel()), 400, 8)


def test_rate_limit_is_per_app_id(backend, clock, api):
    settings = ApiSettings(customers=(api.alice, api.bob), resource_key=b"k" * 32,
                           rate_limit_per_second=10, clock=clock)
    app = create_app(backend, settings)
    alice = TestClient(app, headers=api.basic(api.alice))
    bob = TestClient(app, headers=api.basic(api.bob))

    codes = [alice.post(f"{api.prefix()}/acquire", json=channel()).status_code for _ in range(11)]
    throttled = alice.post(f"{api.prefix()}/acquire", json=channel())
    other_app = bob.post(f"{api.prefix(api.app_b)}/acquire", json=channel())
    clock.now += 0.2
    refilled = alice.post(f"{api.prefix()}/acquire", json=channel())

    assert codes == [200] * 10 + [429]
    assert throttled.json() == {"message": "API rate limit exceeded"}
    assert (other_app.status_code, refilled.status_code) == (200, 200)
