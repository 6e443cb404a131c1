"""Options cloudrec cannot honour are refused with code 2 and a reason naming the field, never
accepted and ignored (the field audit; spec §4, §9). Their default or zero values still pass."""

from __future__ import annotations

import pytest

from .test_bad_input import assert_error


@pytest.mark.parametrize("region", ["CN", "AP", "EU", "NA"])
def test_acquire_refuses_a_region_it_cannot_keep_to(api, region):
    """Tried: acquire with clientRequest.region. A self-hosted cloudrec records where it is
    deployed, so it cannot restrict itself to a region; it was kept in the grant and never read."""
    body = assert_error(api.acquire(region=region), 400, 2)

    assert "clientRequest.region" in body["reason"]


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
