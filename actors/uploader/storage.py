"""Where finished files go. `file://` storage copies them into a local directory tree.

Storage is chosen by URL; S3-compatible storage (boto3) is added by its own module and factory.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse


class Storage(Protocol):
    def put(self, key: str, path: Path) -> int:
        """Store the file at `path` under `key`; return the stored size once confirmed."""
        ...

    def describe(self) -> str:
        """Where files go, without credentials."""
        ...


class FileStorage:
    """A directory as a bucket: object keys become relative paths under `root`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def put(self, key: str, path: Path) -> int:
        target = self._target(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        shutil.copyfile(path, partial)
        os.replace(partial, target)  # readers never see a half-written object
        return target.stat().st_size

    def describe(self) -> str:
        return f"file://{self.root}"

    def _target(self, key: str) -> Path:
        target = (self.root / key).resolve()
        if not target.is_relative_to(self.root):
            raise ValueError(f"object key {key!r} escapes the storage root")
        return target


def open_storage(url: str) -> Storage:
    """`file:///abs/dir`, `file://relative/dir` or a plain directory path."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return FileStorage((parsed.netloc + parsed.path) if parsed.scheme else url)
    raise ValueError(f"unsupported storage URL {url!r}")
