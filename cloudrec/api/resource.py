"""resourceId: an opaque, encrypted and authenticated grant issued by ``acquire``.

Construction (stdlib only, encrypt-then-MAC):

* two keys are derived from the configured secret: ``k_enc = HMAC-SHA256(key, "cloudrec
  resource enc")`` and ``k_mac = HMAC-SHA256(key, "cloudrec resource mac")``;
* the grant is compact JSON; it is XOR-ed with the keystream ``HMAC-SHA256(k_enc, nonce ||
  counter_be32)`` for counter 0, 1, … (HMAC as a PRF in counter mode), with a fresh random
  16-byte nonce per token;
* ``tag = HMAC-SHA256(k_mac, version || nonce || ciphertext)``;
* ``resourceId = base64url(version || nonce || ciphertext || tag)`` without padding.

A token that does not decode, has a bad tag or an unreadable grant is code 1001. Matching the
grant against a call (432 / 1003) and the 5-minute start window (433) are checks on the
decoded :class:`ResourceGrant`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass

from cloudrec.api.errors import ApiError

VERSION = b"\x01"
NONCE_BYTES = 16
TAG_BYTES = 32
START_WINDOW_SECONDS = 300.0
_MAX_TOKEN_CHARS = 2048


@dataclass(frozen=True)
class ResourceGrant:
    """What ``acquire`` granted: one recorder (appid, cname, uid) and its options."""

    appid: str
    cname: str
    uid: str
    scene: int
    region: str | None
    resource_expired_hour: int
    issued_at: float  # Unix seconds
    nonce: str  # hex; makes every resourceId unique
    start_parameter_error: str = ""  # why acquire's startParameter is invalid ("" = it is not)

    def check_channel(self, appid: str, cname: str, uid: str) -> None:
        """``start``/``stop``/updates name the channel: all three must match → else 432."""
        if (appid, cname, uid) != (self.appid, self.cname, self.uid):
            raise ApiError(432, "appid, cname or uid does not match the resourceId")

    def check_app(self, appid: str) -> None:
        """Calls on a session must come through the grant's app → else 1003."""
        if appid != self.appid:
            raise ApiError(1003, "appid does not match the resourceId")

    def check_fresh(self, now: float) -> None:
        """``start`` must come within 5 minutes of ``acquire`` → else 433."""
        if now - self.issued_at > START_WINDOW_SECONDS:
            raise ApiError(433, "resourceId expired: start must follow acquire within 5 minutes")


class ResourceCodec:
    """Issues and reads resourceIds under one secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the resource key must have at least 16 bytes")
        self._enc_key = _derive(key, b"cloudrec resource enc")
        self._mac_key = _derive(key, b"cloudrec resource mac")
        # every call on a session reads its resourceId again: a read is a pure function of the
        # token (grants are frozen), so a token read once is not decrypted and checked again
        self._read_once = functools.lru_cache(maxsize=4096)(self._read)

    def issue(self, appid: str, cname: str, uid: str, *, scene: int, region: str | None,
              resource_expired_hour: int, now: float,
              start_parameter_error: str = "") -> tuple[str, ResourceGrant]:
        nonce = secrets.token_bytes(NONCE_BYTES)
        grant = ResourceGrant(appid, cname, uid, scene, region, resource_expired_hour, now,
                              nonce.hex(), start_parameter_error)
        return self.encode(grant, nonce), grant

    def encode(self, grant: ResourceGrant, nonce: bytes) -> str:
        plain = json.dumps(asdict(grant), separators=(",", ":")).encode()
        cipher = _xor(plain, _keystream(self._enc_key, nonce, len(plain)))
        tag = hmac.digest(self._mac_key, VERSION + nonce + cipher, "sha256")
        return base64.urlsafe_b64encode(VERSION + nonce + cipher + tag).rstrip(b"=").decode()

    def decode(self, resource_id: str) -> ResourceGrant:
        """The grant inside a resourceId; anything unreadable or forged → ApiError 1001."""
        return self.read(resource_id)[0]

    def read(self, resource_id: str) -> tuple[ResourceGrant, str]:
        """The grant and the one spelling of its resourceId. Base64 decoding forgives padding,
        `+` and `/` for `-` and `_`, stray characters and the unused low bits of the last one:
        sessions are keyed by this spelling, so no other one starts a second session."""
        return self._read_once(resource_id)

    def _read(self, resource_id: str) -> tuple[ResourceGrant, str]:
        raw = _unbase64(resource_id)
        grant = self._open(raw)
        assert raw is not None  # _open refused it otherwise
        return grant, base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def _open(self, raw: bytes | None) -> ResourceGrant:
        if raw is None or len(raw) <= 1 + NONCE_BYTES + TAG_BYTES or raw[:1] != VERSION:
            raise _unreadable()
        nonce, cipher, tag = raw[1:17], raw[17:-TAG_BYTES], raw[-TAG_BYTES:]
        expected = hmac.digest(self._mac_key, VERSION + nonce + cipher, "sha256")
        if not hmac.compare_digest(tag, expected):
            raise _unreadable()
        plain = _xor(cipher, _keystream(self._enc_key, nonce, len(cipher)))
        try:
            return ResourceGrant(**json.loads(plain))
        except (ValueError, TypeError):
            raise _unreadable() from None


def _unreadable() -> ApiError:
    return ApiError(1001, "failed to parse the resourceId")


def _unbase64(text: str) -> bytes | None:
    if not text or len(text) > _MAX_TOKEN_CHARS or not text.isascii():
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _derive(key: bytes, label: bytes) -> bytes:
    return hmac.digest(key, label, "sha256")


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (hmac.digest(key, nonce + i.to_bytes(4, "big"), "sha256")
              for i in range(-(-length // hashlib.sha256().digest_size)))
    return b"".join(blocks)[:length]


def _xor(data: bytes, stream: bytes) -> bytes:
    if len(data) != len(stream):
        raise ValueError("the keystream must be as long as the data")
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")
