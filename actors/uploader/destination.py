"""A session's customer bucket, with its keys held where no event, log or repr can show them.

`Destination` travels from the API to the session's uploader actor only (in its constructor);
the recording config the recorder sees and every event carry `describe()` at most.
"""

from __future__ import annotations

from dataclasses import dataclass, field

REDACTED = "***"


@dataclass(frozen=True)
class Credentials:
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials({REDACTED})"

    __str__ = __repr__

    def redact(self, text: str) -> str:
        """`text` with every occurrence of a key replaced (error messages from the store)."""
        for secret in (self.secret_key, self.access_key):
            if secret:
                text = text.replace(secret, REDACTED)
        return text


@dataclass(frozen=True)
class Destination:
    """Where a session's files go (S3 API) and where they wait when that store is down."""

    endpoint_url: str
    region: str
    bucket: str
    credentials: Credentials = field(repr=False)
    prefix: str = ""  # fileNamePrefix joined with "/", validated [A-Za-z0-9] parts
    sse: str | None = None  # "kms" | "aes256"
    tag: str | None = None  # object tagging, "k=v&k2=v2"
    backup_url: str = ""  # a local directory (file://) for files the store did not take

    def describe(self) -> str:
        """The bucket without credentials, for events and logs."""
        where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return f"{where} at {self.endpoint_url}"

    def within_prefix(self, key: str) -> bool:
        """A key may never leave its prefix: no absolute path, no `.`/`..` part, prefix first."""
        parts = key.split("/")
        if key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            return False
        return not self.prefix or key.startswith(self.prefix + "/")
