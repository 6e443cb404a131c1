"""One contract for every object store the uploader writes to (style rule 22): the local
directory store and the S3-API store against a real S3-compatible server over HTTP."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cloudrec.actors.uploader.s3 import S3Storage
from cloudrec.actors.uploader.storage import (
    FileStorage,
    Storage,
    StorageRejected,
    StorageUnavailable,
)

from .s3 import S3Server, s3_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration


class StoreContract:
    """Subclasses give `store` (keys under prefix `rec/room`) and `read` (an object's bytes)."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Storage:
        raise NotImplementedError

    def read(self, store: Storage, key: str) -> bytes:
        raise NotImplementedError

    def file(self, tmp_path: Path, data: bytes) -> Path:
        path = tmp_path / "local.bin"
        path.write_bytes(data)
        return path

    def test_put_confirms_the_size_and_keeps_the_bytes(self, store: Storage,
                                                       tmp_path: Path) -> None:
        data = bytes(range(256)) * 100
        md5 = hashlib.md5(data).hexdigest()
        assert store.put("rec/room/a.ts", self.file(tmp_path, data), md5) == len(data)
        assert self.read(store, "rec/room/a.ts") == data

    def test_put_overwrites(self, store: Storage, tmp_path: Path) -> None:
        store.put("rec/room/p.m3u8", self.file(tmp_path, b"one"))
        store.put("rec/room/p.m3u8", self.file(tmp_path, b"two, longer"))
        assert self.read(store, "rec/room/p.m3u8") == b"two, longer"

    def test_a_key_cannot_escape(self, store: Storage, tmp_path: Path) -> None:
        with pytest.raises(StorageRejected):
            store.put("rec/room/../../../etc/x", self.file(tmp_path, b"x"))

    def test_check_passes_on_a_usable_store(self, store: Storage) -> None:
        store.check()
        assert "secret" not in store.describe()


class TestFileStorage(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Storage:
        return FileStorage(tmp_path / "bucket")

    def read(self, store: Storage, key: str) -> bytes:
        assert isinstance(store, FileStorage)
        return store.path(key).read_bytes()


class TestS3Storage(StoreContract):
    @pytest.fixture
    def store(self, s3_server: S3Server) -> Storage:  # noqa: F811
        self.server = s3_server
        self.bucket = s3_server.new_bucket()
        return S3Storage(s3_server.destination(self.bucket, "rec/room"))

    def read(self, store: Storage, key: str) -> bytes:
        return self.server.reader(self.bucket).read(key)

    def test_objects_carry_encryption_and_tags(self, s3_server: S3Server,  # noqa: F811
                                               tmp_path: Path) -> None:
        bucket = s3_server.new_bucket()
        store = S3Storage(s3_server.destination(bucket, "p", sse="aes256", tag="team=rec"))
        store.put("p/a.ts", self.file(tmp_path, b"data"))
        reader = s3_server.reader(bucket)
        assert reader.tags("p/a.ts") == {"team": "rec"}
        assert reader.encryption("p/a.ts") == "AES256"

    def test_a_missing_bucket_is_refused_at_check(self, s3_server: S3Server) -> None:  # noqa: F811
        store = S3Storage(s3_server.destination("no-such-bucket-here", "p"))
        with pytest.raises(StorageRejected, match="NoSuchBucket"):
            store.check()

    def test_a_wrong_secret_is_refused_not_retried(self, s3_server: S3Server,  # noqa: F811
                                                   tmp_path: Path) -> None:
        from cloudrec.actors.uploader.destination import Credentials, Destination

        bucket = s3_server.new_bucket()
        wrong = Credentials(s3_server.credentials.access_key, "wrong-secret-0123456789")
        store = S3Storage(Destination(s3_server.endpoint, "us-east-1", bucket, wrong, "p"))
        with pytest.raises(StorageRejected, match="SignatureDoesNotMatch") as raised:
            store.put("p/a.ts", self.file(tmp_path, b"x"))
        assert "wrong-secret" not in str(raised.value)

    def test_an_unreachable_endpoint_is_unavailable(self, s3_server: S3Server,  # noqa: F811
                                                    tmp_path: Path) -> None:
        store = S3Storage(s3_server.destination("b", "p", endpoint="http://127.0.0.1:9"))
        with pytest.raises(StorageUnavailable):
            store.put("p/a.ts", self.file(tmp_path, b"x"))
