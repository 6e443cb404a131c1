"""`cloudrec demo --storage s3://BUCKET --s3-endpoint URL`: the demo's plan records into that
bucket (created if missing) with the bucket's keys; the recording itself is the one
test_s3_recording.py checks object by object."""

from __future__ import annotations

import uuid

import pytest

from cloudrec import demo
from cloudrec.cli import _parser, _settings

from .s3 import S3Server, s3_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration


def test_the_demo_records_into_the_named_bucket(s3_server: S3Server,  # noqa: F811
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    keys = s3_server.credentials
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys.secret_key)
    bucket = f"demo-{uuid.uuid4().hex[:12]}"
    args = _parser().parse_args(["demo", "--storage", f"s3://{bucket}",
                                 "--s3-endpoint", s3_server.endpoint])
    settings = _settings(args)
    plan = demo.plan(settings, 5.0)
    assert settings.storage_plan().s3 and settings.storage_plan().endpoint == s3_server.endpoint
    request = plan.start_request()["storageConfig"]
    assert request["bucket"] == bucket and request["secretKey"] == keys.secret_key
    assert s3_server.reader(bucket).sizes() == {}  # the bucket exists (and is empty)
    assert keys.secret_key not in repr(plan)


def test_the_file_demo_is_unchanged() -> None:
    settings = _settings(_parser().parse_args(["demo"]))
    assert not settings.storage_plan().s3
    assert demo.plan(settings, 5.0).bucket == "recordings"
