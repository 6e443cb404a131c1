"""Request models: aliases, defaults and keeping secrets out of what gets printed."""

from __future__ import annotations

from cloudrec.api.requests import StartRequest, UpdateLayoutRequest

SECRETS = ("rtc-token", "AK", "SK", "decrypt-me")


def start_request(api) -> StartRequest:
    body = api.start_body()
    body["clientRequest"]["recordingConfig"] |= {"decryptionMode": 1, "secret": "decrypt-me"}
    return StartRequest.model_validate(body, context={"mode": "mix"})


def test_public_config_drops_every_secret(api):
    config = start_request(api).public_config()

    text = repr(config)
    assert not any(secret in text for secret in SECRETS)
    assert config["clientRequest"]["storageConfig"] == {
        "vendor": 1, "region": 0, "bucket": "my-bucket", "fileNamePrefix": ["rec", "room42"]}
    assert "token" not in config["clientRequest"]


def test_public_config_uses_the_json_names(api):
    config = start_request(api).public_config()

    transcoding = config["clientRequest"]["recordingConfig"]["transcodingConfig"]
    assert transcoding["mixedVideoLayout"] == 3
    assert transcoding["layoutConfig"][1]["render_mode"] == 1
    assert config["clientRequest"]["recordingConfig"]["subscribeVideoUids"] == ["1001", "1002",
                                                                               "1003"]


def test_repr_and_str_hide_secrets(api):
    request = start_request(api)

    assert not any(secret in repr(request) or secret in str(request) for secret in SECRETS)
    storage = request.client_request.storage_config
    assert storage.secret_key.get_secret_value() == "SK"
    assert storage.prefix == "rec/room42"


def test_update_layout_omitted_fields_take_their_defaults():
    body = {"cname": "room42", "uid": "900001", "clientRequest": {}}

    layout = UpdateLayoutRequest.model_validate(body).client_request

    assert (layout.mixed_video_layout, layout.background_color, layout.layout_config) == \
        (0, "#000000", None)


def test_deny_lists_are_written_with_the_documented_spelling(api):
    body = api.start_body()
    body["clientRequest"]["recordingConfig"] = {"unsubscribeAudioUids": ["5"]}

    config = StartRequest.model_validate(body).public_config()

    assert config["clientRequest"]["recordingConfig"]["unSubscribeAudioUids"] == ["5"]
