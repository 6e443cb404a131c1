"""Options cloudrec cannot honour are refused with code 2 and a reason naming the field, never
accepted and ignored (the field audit; spec §4, §9). Their default or zero values still pass.
acquire's `region` is honoured against the areas the deployment serves."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from cloudrec.api.app import create_app
from cloudrec.api.settings import ALL_REGIONS, ApiSettings, parse_regions

from .conftest import ALICE, Api, basic
from .test_bad_input import assert_error


@pytest.mark.parametrize("region", ["CN", "AP", "EU", "NA"])
def test_acquire_takes_a_region_the_deployment_serves(api, region):
    """Tried: acquire with each clientRequest.region (the spec's own example sends "CN") on a
    deployment serving all four areas (the default): granted."""
    assert api.acquire(region=region).status_code == 200


def test_acquire_refuses_a_region_the_deployment_does_not_serve(backend, settings):
    """Tried: a deployment whose operator declared it serves EU only (`--regions EU`), asked
    for NA: code 2 naming the field and what it serves; EU is granted."""
    eu_only = replace(settings, regions=frozenset({"EU"}))
    eu = Api(TestClient(create_app(backend, eu_only), headers=basic(ALICE)))
    body = assert_error(eu.acquire(region="NA"), 400, 2)
    assert "clientRequest.region NA" in body["reason"] and "EU" in body["reason"]
    assert eu.acquire(region="EU").status_code == 200


def test_regions_are_parsed_and_checked():
    assert parse_regions("") == ALL_REGIONS
    assert parse_regions("eu, na") == {"EU", "NA"}
    with pytest.raises(ValueError, match="regions must be some of"):
        ApiSettings(customers=(), resource_key=b"k", regions=frozenset({"MARS"}))


@pytest.mark.parametrize(("field", "value"), [("excludeResourceIds", ["abc"]),
                                              ("regionAffinity", 1)])
def test_acquire_refuses_placement_hints(api, field, value):
    """Tried: acquire with excludeResourceIds / regionAffinity ([post-2021] placement hints);
    they were dropped as unknown fields, so the placement they ask for silently did not happen."""
    body = assert_error(api.acquire(**{field: value}), 400, 2)

    assert field in body["reason"]


def test_acquire_takes_placement_hints_at_their_defaults(api):
    """Tried: the hints empty or zero, as a client that fills every field sends them."""
    assert api.acquire(excludeResourceIds=[], regionAffinity=0).status_code == 200


def test_an_invalid_start_parameter_makes_start_fail(api):
    """Tried: acquire with a startParameter whose avFileType is ["mp4"] alone, then a valid
    start. §4: invalid content does not fail acquire but makes start fail; it was ignored."""
    parameter = api.start_body()["clientRequest"] | {"recordingFileConfig": {"avFileType": ["mp4"]}}
    acquired = api.acquire(startParameter=parameter)
    assert acquired.status_code == 200

    body = assert_error(api.start(acquired.json()["resourceId"]), 400, 2, cname="room42",
                        uid="900001", resourceId=acquired.json()["resourceId"])

    assert "startParameter" in body["reason"] and "avFileType" in body["reason"]
    assert "AK" not in body["reason"] and "SK" not in body["reason"]


def test_a_valid_start_parameter_lets_start_run(api):
    """Tried: acquire with the start body's own clientRequest as startParameter, then start."""
    acquired = api.acquire(startParameter=api.start_body()["clientRequest"])

    assert api.start(acquired.json()["resourceId"]).status_code == 200


def test_stop_refuses_async_stop(api, backend):
    """Tried: stop with clientRequest.async_stop true. cloudrec's stop always answers once every
    file is uploaded, so the immediate answer it asks for was silently not given."""
    resource_id, sid = api.running()
    body = {"cname": "room42", "uid": "900001", "clientRequest": {"async_stop": True}}

    refused = assert_error(api.client.post(api.session_path(resource_id, sid, "stop"), json=body),
                           400, 2, cname="room42", uid="900001", resourceId=resource_id, sid=sid)

    assert "async_stop" in refused["reason"]
    assert not backend.sessions[sid].stopped
    body["clientRequest"]["async_stop"] = False
    assert api.client.post(api.session_path(resource_id, sid, "stop"), json=body).status_code == 200
