"""Media encryption of packet payloads: the eight modes of `decryptionMode` (spec §5.1).

A publisher encrypts each packet's `data` (`seal`), a recorder decrypts it (`open`); a track's
`TrackInfo.extradata` stays clear. cloudrec's own wire format (Agora's SDK format is not public):

    "CRE" | mode (1 byte) | nonce (12 random bytes) | ciphertext

* ECB modes (2 AES-128, 4 SM4-128) and XTS modes (1 AES-128, 3 AES-256): the plaintext is the
  4-byte check "crm1" and the payload, PKCS7-padded to whole 16-byte blocks; XTS's tweak is the
  nonce and four zero bytes. Neither is authenticated: a wrong key is found by the padding and
  the check failing (a false accept is ~2^-40 per packet).
* GCM modes (5 AES-128, 6 AES-256, 7 AES-128 GCM2, 8 AES-256 GCM2): AES-GCM with the nonce, the
  17-byte header as associated data and the 16-byte tag at the end.

Keys come from the `secret` text: modes 1-6 take HKDF-SHA256(secret, info "cloudrec media
<MODE NAME>") of the mode's key length (32 bytes for AES-128-XTS, 64 for AES-256-XTS); GCM2
(7, 8) takes PBKDF2-HMAC-SHA256(secret, salt, 10,000 iterations) of 16 or 32 bytes, the salt
being the 32 bytes the base64 `salt` decodes to.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

MODE_NAMES = {1: "AES_128_XTS", 2: "AES_128_ECB", 3: "AES_256_XTS", 4: "SM4_128_ECB",
              5: "AES_128_GCM", 6: "AES_256_GCM", 7: "AES_128_GCM2", 8: "AES_256_GCM2"}
KEY_BYTES = {1: 32, 2: 16, 3: 64, 4: 16, 5: 16, 6: 32, 7: 16, 8: 32}
SALTED = (7, 8)
MAGIC, CHECK = b"CRE", b"crm1"
NONCE_BYTES = 12
HEADER_BYTES = len(MAGIC) + 1 + NONCE_BYTES
PBKDF2_ITERATIONS = 10_000


class Undecryptable(ValueError):
    """A payload this key cannot open: another key or mode, or not encrypted at all."""


@dataclass(frozen=True)
class MediaKey:
    """A `decryptionMode` with its `secret` and `salt` (the salt's 32 bytes, b"" if none).
    Never printed: the secret appears in no repr, event or log."""

    mode: int
    secret: str = field(repr=False)
    salt: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if self.mode not in MODE_NAMES:
            raise ValueError(f"decryptionMode must be 1..8, not {self.mode}")
        if not self.secret:
            raise ValueError("a secret is required to encrypt media")
        if self.mode in SALTED and len(self.salt) != 32:
            raise ValueError(f"{MODE_NAMES[self.mode]} needs a salt of 32 bytes")

    @classmethod
    def from_text(cls, mode: int, secret: str, salt_b64: str | None = None) -> MediaKey:
        """As the API and the command line take it: the salt as base64 text."""
        salt = base64.b64decode(salt_b64, validate=True) if salt_b64 else b""
        return cls(mode, secret, salt)

    def key_bytes(self) -> bytes:
        length, secret = KEY_BYTES[self.mode], self.secret.encode()
        if self.mode in SALTED:
            return PBKDF2HMAC(hashes.SHA256(), length, self.salt, PBKDF2_ITERATIONS).derive(secret)
        info = f"cloudrec media {MODE_NAMES[self.mode]}".encode()
        return HKDF(hashes.SHA256(), length, None, info).derive(secret)


def sm4_available() -> bool:
    """Whether this machine's `cryptography` (its OpenSSL) can do SM4-ECB."""
    try:
        encryptor = Cipher(algorithms.SM4(bytes(16)), modes.ECB()).encryptor()
        encryptor.update(bytes(16))
        encryptor.finalize()
    except (UnsupportedAlgorithm, AttributeError):
        return False
    return True


class PacketCipher:
    """Seals and opens packet payloads under one `MediaKey`."""

    def __init__(self, key: MediaKey) -> None:
        self.mode = key.mode
        self._key = key.key_bytes()
        self._header = MAGIC + bytes([key.mode])
        self._gcm = AESGCM(self._key) if key.mode >= 5 else None

    def seal(self, payload: bytes) -> bytes:
        header = self._header + os.urandom(NONCE_BYTES)
        if self._gcm is not None:
            return header + self._gcm.encrypt(header[-NONCE_BYTES:], payload, header)
        padder = padding.PKCS7(128).padder()
        plain = padder.update(CHECK + payload) + padder.finalize()
        encryptor = self._block_cipher(header[-NONCE_BYTES:]).encryptor()
        return header + encryptor.update(plain) + encryptor.finalize()

    def open(self, sealed: bytes) -> bytes:
        """The payload; Undecryptable for another key or mode, or a clear payload."""
        header, body = sealed[:HEADER_BYTES], sealed[HEADER_BYTES:]
        if len(header) < HEADER_BYTES or not header.startswith(self._header):
            raise Undecryptable(f"not sealed with {MODE_NAMES[self.mode]}")
        if self._gcm is not None:
            return self._open_gcm(header, body)
        return self._open_blocks(header[-NONCE_BYTES:], body)

    def _open_gcm(self, header: bytes, body: bytes) -> bytes:
        assert self._gcm is not None
        try:
            return self._gcm.decrypt(header[-NONCE_BYTES:], body, header)
        except InvalidTag:
            raise Undecryptable("authentication failed: another key") from None

    def _open_blocks(self, nonce: bytes, body: bytes) -> bytes:
        if not body or len(body) % 16:
            raise Undecryptable("not whole cipher blocks")
        decryptor = self._block_cipher(nonce).decryptor()
        plain = decryptor.update(body) + decryptor.finalize()
        try:
            unpadder = padding.PKCS7(128).unpadder()
            plain = unpadder.update(plain) + unpadder.finalize()
        except ValueError:
            raise Undecryptable("bad padding: another key") from None
        if not plain.startswith(CHECK):
            raise Undecryptable("check failed: another key")
        return plain[len(CHECK):]

    def _block_cipher(self, nonce: bytes) -> Cipher[modes.ECB] | Cipher[modes.XTS]:
        if self.mode in (1, 3):
            return Cipher(algorithms.AES(self._key), modes.XTS(nonce + bytes(4)))
        if self.mode == 4:
            return Cipher(algorithms.SM4(self._key), modes.ECB())
        return Cipher(algorithms.AES(self._key), modes.ECB())
