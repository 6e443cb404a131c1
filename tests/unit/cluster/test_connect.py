"""Which cluster a command joins, and when it presents Ray's token."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudrec.cluster.connect import (
    actor_env,
    server_address,
    token_at_hand,
    use_token_if_present,
)
from cloudrec.runtime import OtherController, check_same_controller


def test_the_named_cluster_wins_then_ray_address_then_the_file_serve_wrote(
        tmp_path: Path) -> None:
    written = tmp_path / "ray-address"
    written.write_text("10.0.0.5:6379\n")
    assert server_address("1.2.3.4:6379", {"RAY_ADDRESS": "x:1"}, written) == "1.2.3.4:6379"
    assert server_address(None, {"RAY_ADDRESS": "x:1"}, written) == "x:1"
    assert server_address(None, {}, written) == "10.0.0.5:6379"


def test_no_named_cluster_is_an_error_not_the_newest_cluster_on_the_machine(
        tmp_path: Path) -> None:
    with pytest.raises(LookupError, match="--ray-address"):
        server_address(None, {}, tmp_path / "missing")


def test_token_mode_is_turned_on_only_with_a_token_and_no_chosen_mode(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("secret")
    env = {"RAY_AUTH_TOKEN_PATH": str(token)}
    assert token_at_hand(env) and use_token_if_present(env) and env["RAY_AUTH_MODE"] == "token"
    chosen = {"RAY_AUTH_TOKEN_PATH": str(token), "RAY_AUTH_MODE": "disabled"}
    assert not use_token_if_present(chosen) and chosen["RAY_AUTH_MODE"] == "disabled"
    none = {"RAY_AUTH_TOKEN_PATH": str(tmp_path / "absent")}
    assert not use_token_if_present(none) and "RAY_AUTH_MODE" not in none


def test_actors_on_a_joined_cluster_get_the_settings_but_never_the_secrets() -> None:
    env = {"CLOUDREC_WARM_RECORDERS": "0", "CLOUDREC_RECORDER_RESOURCE": "recorder",
           "CLOUDREC_RESOURCE_KEY": "k" * 32, "CLOUDREC_WEBHOOKS": "app=http://x,secret=s",
           "CLOUDREC_CUSTOMERS": "a:b:c", "PATH": "/bin"}
    assert actor_env(env) == {"env_vars": {"CLOUDREC_WARM_RECORDERS": "0",
                                           "CLOUDREC_RECORDER_RESOURCE": "recorder"}}


def test_a_second_cloudrec_on_other_settings_is_told_not_to_drive_the_controller() -> None:
    running = {"events_url": "sqlite:////a/events.db", "storage_url": "file:///a/rec"}
    check_same_controller(running, "sqlite:////a/events.db", "file:///a/rec")
    with pytest.raises(OtherController, match="already runs a cloudrec controller"):
        check_same_controller(running, "sqlite:////b/events.db", "file:///a/rec")
