"""The S3-compatible server of the tests (moto's server mode, started by cluster/s3/up.sh unless
one already answers; never skipped: a missing server fails), and fresh buckets on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cloudrec.actors.uploader.destination import Credentials, Destination
from cloudrec.actors.uploader.s3 import BucketReader, create_bucket

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("S3_STATE", ROOT / ".cloudrec" / "s3"))


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    credentials: Credentials = field(repr=False)

    def new_bucket(self) -> str:
        name = f"test-{uuid.uuid4().hex[:16]}"
        create_bucket(self.endpoint, name, self.credentials)
        return name

    def reader(self, bucket: str) -> BucketReader:
        return BucketReader(self.endpoint, bucket, self.credentials)

    def destination(self, bucket: str, prefix: str = "", endpoint: str | None = None,
                    **options: str) -> Destination:
        return Destination(endpoint or self.endpoint, "us-east-1", bucket, self.credentials,
                           prefix, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    subprocess.run([str(ROOT / "cluster" / "s3" / "up.sh")], check=True,
                   env={**os.environ, "PYTHON": sys.executable, "S3_STATE": str(STATE)})
    keys = json.loads((STATE / "credentials.json").read_text())
    yield S3Server(keys["endpoint"], Credentials(keys["access_key"], keys["secret_key"]))
