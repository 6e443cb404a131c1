"""The recording config through the log (`RecordingPlanned`) and back: what a restarted
controller and every failover generation record with."""

from pathlib import Path

from cloudrec.actors.recorder.config import RecordingConfig, from_plan, to_plan


def test_the_video_stream_type_survives_the_plan() -> None:
    """A later generation subscribes to the same video layer (videoStreamType) as the first."""
    config = RecordingConfig(sid="s", appid="a", cname="c", recorder_uid=9, generation=1,
                             workdir=Path("/tmp/s"), mode="individual", video_stream_type=1)
    assert from_plan(to_plan(config)) == config
