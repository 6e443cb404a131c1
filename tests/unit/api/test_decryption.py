"""`decryptionMode`, `secret` and `salt` (spec §5.1): every mode 1..8 starts with its keys, a
missing or malformed key is code 2, and the keys reach the recorder's config but nothing that
is printed or logged."""

from __future__ import annotations

import base64

import pytest

from cloudrec.actors.channel.encryption import MediaKey
from cloudrec.api.requests import StartRequest
from cloudrec.config import recording_config

from .test_bad_input import assert_error

SALT = base64.b64encode(bytes(range(32))).decode()


def start(api, **decryption):
    body = api.start_body()
    body["clientRequest"]["recordingConfig"] |= decryption
    resource_id = api.acquire().json()["resourceId"]
    return resource_id, api.start(resource_id, body)


@pytest.mark.parametrize("mode", range(1, 9))
def test_every_mode_starts_with_its_keys(api, backend, mode):
    _, response = start(api, decryptionMode=mode, secret="k3y", salt=SALT)

    assert response.status_code == 200, response.text
    config = backend.sessions[response.json()["sid"]].request.client_request.recording_config
    assert config.decryption_mode == mode and config.secret.get_secret_value() == "k3y"


BAD = {
    "no secret": {"decryptionMode": 5},
    "empty secret": {"decryptionMode": 5, "secret": ""},
    "mode 9": {"decryptionMode": 9, "secret": "k"},
    "mode -1": {"decryptionMode": -1, "secret": "k"},
    "GCM2 without salt": {"decryptionMode": 7, "secret": "k"},
    "GCM2 salt of 16 bytes": {"decryptionMode": 8, "secret": "k",
                              "salt": base64.b64encode(bytes(16)).decode()},
    "salt not base64": {"decryptionMode": 8, "secret": "k", "salt": "%" * 44},
}


@pytest.mark.parametrize("fields", BAD.values(), ids=BAD.keys())
def test_a_missing_or_malformed_key_is_code_2(api, backend, fields):
    resource_id, response = start(api, **fields)

    body = assert_error(response, 400, 2, resourceId=resource_id)
    assert not backend.sessions and "k3y" not in body["reason"]


def test_sm4_is_refused_where_the_crypto_library_has_none(api, backend, monkeypatch):
    monkeypatch.setattr("cloudrec.api.mode.sm4_available", lambda: False)
    resource_id, response = start(api, decryptionMode=4, secret="k3y")

    body = assert_error(response, 400, 2, resourceId=resource_id, cname="room42", uid="900001")
    assert "SM4" in body["reason"] and not backend.sessions


def test_the_recorder_gets_the_key_and_the_log_does_not(api, tmp_path):
    body = api.start_body()
    body["clientRequest"]["recordingConfig"] |= {"decryptionMode": 8, "secret": "k3y",
                                                 "salt": SALT}
    request = StartRequest.model_validate(body, context={"mode": "mix"})

    config = recording_config("s" * 32, "a" * 32, request, tmp_path)

    assert config.decryption_mode == 8
    assert config.media_key == MediaKey(8, "k3y", bytes(range(32)))
    public = repr(request.public_config())
    assert "k3y" not in public and SALT not in public and "k3y" not in repr(config)
    assert "decryptionMode" in public


def test_clear_media_has_no_key(api, tmp_path):
    request = StartRequest.model_validate(api.start_body(), context={"mode": "mix"})

    config = recording_config("s" * 32, "a" * 32, request, tmp_path)

    assert (config.decryption_mode, config.media_key) == (0, None)
