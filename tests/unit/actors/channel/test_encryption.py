"""Media encryption: every decryptionMode (1..8) seals and opens payloads of any size, and a
wrong key, a wrong mode or a clear payload is refused, never opened into garbage."""

from __future__ import annotations

import base64
import random
from fractions import Fraction

import pytest

from cloudrec.actors.channel.encryption import (
    KEY_BYTES,
    MODE_NAMES,
    MediaKey,
    PacketCipher,
    Undecryptable,
    sm4_available,
)
from cloudrec.actors.channel.packet import MediaPacket, TrackInfo
from cloudrec.actors.channel.publisher import EncryptedSource

SALT = bytes(range(32))
MODES = sorted(MODE_NAMES)
SIZES = (0, 1, 3, 15, 16, 17, 1000, 70_000)


def key(mode: int, secret: str = "the secret", salt: bytes = SALT) -> MediaKey:
    if mode == 4 and not sm4_available():
        pytest.skip("no SM4 in this cryptography library")
    return MediaKey(mode, secret, salt if mode in (7, 8) else b"")


@pytest.mark.parametrize("mode", MODES, ids=[MODE_NAMES[m] for m in MODES])
def test_every_mode_opens_what_it_sealed(mode: int) -> None:
    cipher, rng = PacketCipher(key(mode)), random.Random(mode)
    for size in SIZES:
        payload = rng.randbytes(size)
        sealed = cipher.seal(payload)
        assert payload not in sealed or size < 4
        assert PacketCipher(key(mode)).open(sealed) == payload


@pytest.mark.parametrize("mode", MODES, ids=[MODE_NAMES[m] for m in MODES])
def test_a_wrong_secret_opens_nothing(mode: int) -> None:
    sealed = [PacketCipher(key(mode)).seal(random.Random(s).randbytes(s)) for s in range(200)]
    wrong = PacketCipher(key(mode, secret="not the secret"))
    for data in sealed:
        with pytest.raises(Undecryptable):
            wrong.open(data)


@pytest.mark.parametrize("mode", [7, 8])
def test_gcm2_needs_the_right_salt(mode: int) -> None:
    sealed = PacketCipher(key(mode)).seal(b"payload")
    with pytest.raises(Undecryptable):
        PacketCipher(key(mode, salt=bytes(32))).open(sealed)


@pytest.mark.parametrize("mode", MODES, ids=[MODE_NAMES[m] for m in MODES])
def test_another_mode_or_a_clear_payload_is_refused(mode: int) -> None:
    other = 6 if mode != 6 else 5
    with pytest.raises(Undecryptable):
        PacketCipher(key(mode)).open(PacketCipher(key(other)).seal(b"x" * 40))
    with pytest.raises(Undecryptable):
        PacketCipher(key(mode)).open(b"\x00\x00\x00\x01\x67" + bytes(60))  # an H.264 NAL


def test_keys_have_the_length_of_their_mode_and_depend_on_secret_and_salt() -> None:
    for mode in MODES:
        assert len(MediaKey(mode, "s", SALT if mode in (7, 8) else b"").key_bytes()) \
            == KEY_BYTES[mode]
    assert MediaKey(7, "s", SALT).key_bytes() != MediaKey(7, "s", bytes(32)).key_bytes()
    assert MediaKey(5, "s").key_bytes() != MediaKey(5, "t").key_bytes()


def test_a_key_checks_its_mode_secret_and_salt_and_never_prints_them() -> None:
    for bad in [(0, "s", b""), (9, "s", b""), (5, "", b""), (7, "s", b""), (8, "s", b"x" * 16)]:
        with pytest.raises(ValueError):
            MediaKey(*bad)
    made = MediaKey.from_text(8, "hush-hush", base64.b64encode(SALT).decode())
    assert made.salt == SALT
    assert "hush-hush" not in repr(made) and base64.b64encode(SALT).decode() not in repr(made)


class Clear:
    exhausted = True

    def tracks(self) -> list[TrackInfo]:
        return [TrackInfo(1, "video", "h264", Fraction(1, 90000), extradata=b"avcC")]

    def packets_until(self, media_seconds: float) -> list[MediaPacket]:
        return [MediaPacket(1, "video", b"frame", 0, Fraction(1, 90000), keyframe=True),
                MediaPacket(1, "video", b"", 1, Fraction(1, 90000))]


def test_an_encrypted_source_seals_payloads_only() -> None:
    source = EncryptedSource(Clear(), key(6))
    assert source.tracks() == Clear().tracks() and source.exhausted
    sealed, empty = source.packets_until(1.0)
    assert PacketCipher(key(6)).open(sealed.data) == b"frame"
    assert (sealed.pts, sealed.keyframe, empty.data) == (0, True, b"")
