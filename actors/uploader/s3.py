"""S3-API storage. The one module that imports boto3: `client()` is the factory for every client.

Errors are sorted into two kinds: the store refused us for good (`StorageRejected`: no such
bucket, wrong or unknown keys, access denied), or it could not be reached (`StorageUnavailable`:
connection refused or cut, timeouts, 5xx) and a later attempt may succeed.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cloudrec.actors.uploader.destination import Credentials, Destination
from cloudrec.actors.uploader.storage import StorageRejected, StorageUnavailable

REJECTED_CODES = frozenset({
    "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied",
    "InvalidBucketName", "AllAccessDisabled", "InvalidClientTokenId",
    "AuthorizationHeaderMalformed", "404", "403",
})
SSE = {"aes256": "AES256", "kms": "aws:kms"}


def _is_local(url: str) -> bool:
    host = urlparse(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback or ipaddress.ip_address(host).is_private
    except ValueError:
        return host == "localhost"


def client(endpoint_url: str, region: str, credentials: Credentials, service: str = "s3") -> Any:
    """A boto3 client: no retries of its own (the uploader retries), short timeouts."""
    style = "path" if _is_local(endpoint_url) else "virtual"
    config = Config(connect_timeout=3, read_timeout=20, retries={"total_max_attempts": 1},
                    s3={"addressing_style": style})
    return boto3.session.Session().client(
        service, endpoint_url=endpoint_url, region_name=region, config=config,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key)


def create_bucket(endpoint_url: str, bucket: str, credentials: Credentials) -> None:
    """Create `bucket` if missing (development and tests against a local S3 server)."""
    s3 = client(endpoint_url, "us-east-1", credentials)
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as error:
        if _code(error) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


class BucketReader:
    """Reading a bucket back (the demo's report, tests): keys under a prefix and their bytes."""

    def __init__(self, endpoint_url: str, bucket: str, credentials: Credentials) -> None:
        self.bucket = bucket
        self.s3 = client(endpoint_url, "us-east-1", credentials)

    def sizes(self, prefix: str = "") -> dict[str, int]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                   Prefix=prefix)
        return {o["Key"]: int(o["Size"]) for page in pages for o in page.get("Contents", [])}

    def read(self, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def tags(self, key: str) -> dict[str, str]:
        tags = self.s3.get_object_tagging(Bucket=self.bucket, Key=key)["TagSet"]
        return {t["Key"]: t["Value"] for t in tags}

    def encryption(self, key: str) -> str:
        return str(self.s3.head_object(Bucket=self.bucket, Key=key).get("ServerSideEncryption"))


def bootstrap(endpoint_url: str) -> Credentials:
    """On a fresh local server that checks signatures (its first requests free): an IAM user
    allowed everything, and its key pair."""
    iam = client(endpoint_url, "us-east-1", Credentials("bootstrap", "bootstrap"), "iam")
    iam.create_user(UserName="cloudrec")
    policy = {"Version": "2012-10-17",
              "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="cloudrec", PolicyName="all",
                        PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="cloudrec")["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3Storage:
    def __init__(self, destination: Destination) -> None:
        self.destination = destination
        self.s3 = client(destination.endpoint_url, destination.region, destination.credentials)

    def describe(self) -> str:
        return self.destination.describe()

    def check(self) -> None:
        """Fail fast on a bucket that does not exist (HEAD answers only 404/403, without a
        reason: a 403 may be a write-only key, so it is left to the first upload to decide)."""
        try:
            self._call("head_bucket", Bucket=self.destination.bucket)
        except StorageRejected as error:
            if "404" in str(error):
                raise StorageRejected(f"bucket {self.destination.bucket!r} does not exist "
                                      "(NoSuchBucket)") from None

    def put(self, key: str, path: Path, md5: str = "") -> int:
        if not self.destination.within_prefix(key):
            raise StorageRejected(f"object key {key!r} leaves the prefix "
                                  f"{self.destination.prefix!r}")
        body = path.read_bytes()
        if md5 and hashlib.md5(body, usedforsecurity=False).hexdigest() != md5:
            raise StorageRejected(f"{key}: the local file changed since the recorder wrote it")
        extra = self._options(md5)
        put = self._call("put_object", Bucket=self.destination.bucket, Key=key, Body=body,
                         **extra)
        size = self._stored_size(key, put, md5, len(body))
        if size != len(body):
            raise StorageUnavailable(f"{key}: the store holds {size} bytes, not {len(body)}")
        return size

    def _stored_size(self, key: str, put: Any, md5: str, sent: int) -> int:
        """The size the store reports; a write-only key may not HEAD, then the MD5 the store
        verified (ContentMD5) and echoed (ETag) confirms the bytes."""
        try:
            head = self._call("head_object", Bucket=self.destination.bucket, Key=key)
        except StorageRejected:
            if md5 and put.get("ETag", "").strip('"') == md5:
                return sent
            raise
        return int(head["ContentLength"])

    def _options(self, md5: str) -> dict[str, str]:
        extra = {}
        if md5:
            extra["ContentMD5"] = base64.b64encode(bytes.fromhex(md5)).decode()
        if self.destination.sse:
            extra["ServerSideEncryption"] = SSE[self.destination.sse]
        if self.destination.tag:
            extra["Tagging"] = self.destination.tag
        return extra

    def _call(self, operation: str, **params: Any) -> Any:
        redact = self.destination.credentials.redact
        try:
            return getattr(self.s3, operation)(**params)
        except ClientError as error:
            code = _code(error)
            kind = StorageRejected if code in REJECTED_CODES else StorageUnavailable
            raise kind(redact(f"{code}: {error}")) from None
        except BotoCoreError as error:
            raise StorageUnavailable(redact(str(error))) from None


def _main(argv: list[str]) -> int:
    """`python -m cloudrec.actors.uploader.s3 bootstrap ENDPOINT FILE` (cluster/s3/up.sh)."""
    if len(argv) != 3 or argv[0] != "bootstrap":
        sys.stderr.write("usage: python -m cloudrec.actors.uploader.s3 bootstrap ENDPOINT FILE\n")
        return 2
    keys = bootstrap(argv[1])
    Path(argv[2]).write_text(json.dumps({"endpoint": argv[1], "access_key": keys.access_key,
                                         "secret_key": keys.secret_key}))
    Path(argv[2]).chmod(0o600)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
