"""Property: a valid-shaped Agora body with random values is accepted (200) or refused with a
documented code in the service-error shape; never a 500. Strategies in ``agora_bodies.py``."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .agora_bodies import cnames, start_options, uids, update_options
from .agora_bodies import layouts as layout_options
from .fuzzing import check_answer

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                             suppress_health_check=list(HealthCheck))


def answer(response):
    check_answer(response.status_code, response.json())
    return response.status_code, response.json().get("code")


@pytest.mark.parametrize("mode", ["mix", "individual"])
def test_random_start_bodies_are_accepted_or_refused_with_a_documented_code(api, mode):
    seen = set()

    @PROPERTY_SETTINGS
    @given(cname=cnames(), uid=uids(), options=start_options())
    def start(cname, uid, options):
        acquired = api.acquire(cname, uid)
        resource_id = acquired.json().get("resourceId", "unreadable")
        body = {"cname": cname, "uid": uid, "clientRequest": options}
        response = api.start(resource_id, body, mode=mode)
        seen.add(answer(response))
        if response.status_code == 200:  # free (cname, uid) for the next example
            stop = api.session_path(resource_id, response.json()["sid"], "stop")
            stopped = api.client.post(stop.replace("/mix/", f"/{mode}/"), json=body)
            assert stopped.status_code == 200, stopped.text

    start()
    assert (200, None) in seen and (400, 2) in seen, seen


@pytest.fixture
def session(api):
    return api.running()


def test_random_update_bodies_are_accepted_or_refused_with_a_documented_code(api, session):
    resource_id, sid = session
    seen = set()

    @PROPERTY_SETTINGS
    @given(options=update_options(), same_channel=st.booleans())
    def update(options, same_channel):
        uid = "900001" if same_channel else "900002"
        body = {"cname": "room42", "uid": uid, "clientRequest": options}
        seen.add(answer(api.client.post(api.session_path(resource_id, sid, "update"), json=body)))

    update()
    assert {(200, None), (400, 2), (400, 432)} <= seen, seen


def test_random_layouts_are_accepted_or_refused_with_code_1028_or_2(api, session):
    """1028 for a bad layout, 200 for a good one (code 2 stays allowed for a refused option)."""
    resource_id, sid = session
    seen = set()

    @PROPERTY_SETTINGS
    @given(options=layout_options())
    def update_layout(options):
        body = {"cname": "room42", "uid": "900001", "clientRequest": options}
        path = api.session_path(resource_id, sid, "updateLayout")
        seen.add(answer(api.client.post(path, json=body)))

    update_layout()
    assert {(200, None), (400, 1028)} <= seen <= {(200, None), (400, 1028), (400, 2)}, seen
