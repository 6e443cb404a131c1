"""Where finished files go. `file://` storage copies them into a local directory tree; S3-API
storage (`s3.py`) writes to a customer's bucket.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse


class StorageUnavailable(OSError):
    """The store could not be reached or did not confirm; a later attempt may succeed."""


class StorageRejected(Exception):
    """The store refused for good (no such bucket, wrong keys, access denied): never retried."""


class Storage(Protocol):
    def put(self, key: str, path: Path, md5: str = "") -> int:
        """Store the file at `path` under `key`; return the stored size once confirmed."""
        ...

    def check(self) -> None:
        """Raise `StorageRejected` if this store can never take files."""
        ...

    def describe(self) -> str:
        """Where files go, without credentials."""
        ...


class FileStorage:
    """A directory as a bucket: object keys become relative paths under `root`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def put(self, key: str, path: Path, md5: str = "") -> int:
        target = self._target(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        shutil.copyfile(path, partial)
        os.replace(partial, target)  # readers never see a half-written object
        return target.stat().st_size

    def check(self) -> None:
        return None

    def describe(self) -> str:
        return f"file://{self.root}"

    def path(self, key: str) -> Path:
        return self._target(key)

    def _target(self, key: str) -> Path:
        target = (self.root / key).resolve()
        if not target.is_relative_to(self.root):
            raise StorageRejected(f"object key {key!r} escapes the storage root")
        return target


def open_storage(url: str) -> FileStorage:
    """`file:///abs/dir`, `file://relative/dir` or a plain directory path."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return FileStorage((parsed.netloc + parsed.path) if parsed.scheme else url)
    raise ValueError(f"unsupported storage URL {url!r}")
