"""Decrypting packets as they enter a recorder (`decryptionMode`, spec §5.1).

Both cores pass every packet of a recorded stream through `Decryption.open` before anything else
reads its payload. A packet the session's key cannot open (another key or mode, or a publisher
that does not encrypt) is None: the core skips it and reports it as "undecryptable" corrupt
media, one warning per burst, so a wrong key gives warnings and no files of garbage. Without a
key (`decryptionMode` 0) packets pass as they are; a session whose key was lost (its controller
restarted without the key file) opens nothing and says so the same way.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from cloudrec.actors.channel.encryption import MediaKey, PacketCipher, Undecryptable
from cloudrec.actors.channel.packet import MediaPacket

log = logging.getLogger(__name__)


class Decryption:
    def __init__(self, mode: int, key: MediaKey | None) -> None:
        self.mode = mode
        self.cipher = PacketCipher(key) if mode and key is not None else None
        if mode and key is None:
            log.error("decryptionMode %d without its key: no packet can be opened", mode)

    def open(self, packet: MediaPacket) -> MediaPacket | None:
        """The packet with its payload in clear; None if it cannot be opened. Empty payloads
        pass (they are corrupt media of their own kind)."""
        if not self.mode or not packet.data:
            return packet
        if self.cipher is None:
            return None
        try:
            return replace(packet, data=self.cipher.open(packet.data))
        except Undecryptable:
            return None
