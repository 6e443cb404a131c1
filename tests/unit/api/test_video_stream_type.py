"""`videoStreamType` (§5.1): 1 records the low (small) stream of dual-stream senders, in mix and
individual mode; the choice reaches the recording's config (the recorder subscribes with it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudrec.config import recording_config

from .test_individual_mode import individual_body


@pytest.mark.parametrize("mode", ["mix", "individual"])
@pytest.mark.parametrize("stream_type", [0, 1])
def test_video_stream_type_is_accepted_and_reaches_the_recording(api, backend, mode,
                                                                 stream_type):
    body = api.start_body() if mode == "mix" else individual_body()
    body["clientRequest"]["recordingConfig"]["videoStreamType"] = stream_type
    resource_id = api.acquire().json()["resourceId"]
    response = api.start(resource_id, body, mode=mode)
    assert response.status_code == 200, response.text
    session = backend.sessions[response.json()["sid"]]
    config = recording_config("sid", "app", session.request, Path("/tmp"), mode=mode)
    assert config.video_stream_type == stream_type
