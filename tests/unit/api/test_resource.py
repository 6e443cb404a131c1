"""resourceId tokens: opaque, authenticated, carrying the acquire grant."""

from __future__ import annotations

import base64

import pytest

from cloudrec.api.errors import ApiError
from cloudrec.api.resource import ResourceCodec

KEY = b"k" * 32


def issue(codec: ResourceCodec, now: float = 1000.0) -> tuple[str, object]:
    return codec.issue("app", "room42", "900001", scene=0, region="EU",
                       resource_expired_hour=24, now=now)


def test_a_resource_id_decodes_to_its_grant():
    codec = ResourceCodec(KEY)
    resource_id, grant = issue(codec)

    assert codec.decode(resource_id) == grant
    assert (grant.appid, grant.cname, grant.uid, grant.scene, grant.region,
            grant.resource_expired_hour, grant.issued_at) == ("app", "room42", "900001", 0,
                                                              "EU", 24, 1000.0)


def test_resource_ids_are_unique_and_hide_their_content():
    codec = ResourceCodec(KEY)
    first, _ = issue(codec)
    second, _ = issue(codec)

    assert first != second
    raw = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4))
    assert b"room42" not in raw and b"900001" not in raw


def test_another_key_cannot_read_a_resource_id():
    resource_id, _ = issue(ResourceCodec(KEY))

    with pytest.raises(ApiError) as caught:
        ResourceCodec(b"z" * 32).decode(resource_id)
    assert caught.value.code == 1001


@pytest.mark.parametrize("cut", [1, 10, 33])
def test_truncated_resource_id_is_1001(cut):
    codec = ResourceCodec(KEY)
    resource_id, _ = issue(codec)

    with pytest.raises(ApiError) as caught:
        codec.decode(resource_id[:-cut])
    assert caught.value.code == 1001


def test_grant_checks_map_to_432_1003_433():
    codec = ResourceCodec(KEY)
    _, grant = issue(codec, now=1000.0)

    codes = []
    for check in (lambda: grant.check_channel("app", "room43", "900001"),
                  lambda: grant.check_app("other"),
                  lambda: grant.check_fresh(1000.0 + 300.5)):
        with pytest.raises(ApiError) as caught:
            check()
        codes.append(caught.value.code)
    grant.check_fresh(1300.0)
    assert codes == [432, 1003, 433]


def test_short_keys_are_refused():
    with pytest.raises(ValueError):
        ResourceCodec(b"short")


def test_a_token_read_again_gives_the_same_grant_and_a_forgery_of_it_is_still_refused():
    """Reads are cached per token (every call on a session reads its resourceId): the cache
    is keyed by the exact token, so a token one character off is decrypted and refused."""
    codec = ResourceCodec(KEY)
    resource_id, grant = issue(codec)
    assert codec.read(resource_id) == codec.read(resource_id) == (grant, resource_id)
    flipped = resource_id[:20] + ("A" if resource_id[20] != "A" else "B") + resource_id[21:]

    with pytest.raises(ApiError) as caught:
        codec.read(flipped)
    assert caught.value.code == 1001
