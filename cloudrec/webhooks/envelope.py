"""The bytes a webhook receives (spec §15.3) and their signature headers (§15.2).

The notification comes from `projections.callbacks` with `notifyMs` = the event time; each attempt
sends it with `notifyMs` = now, and signs exactly the bytes it sends.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any

from cloudrec.projections.callbacks import sign

SIGNATURE, SIGNATURE_V2 = "Agora-Signature", "Agora-Signature-V2"


def body(notice: Mapping[str, Any], notify_ms: int) -> bytes:
    """The request body: compact UTF-8 JSON, `notifyMs` refreshed."""
    return json.dumps({**notice, "notifyMs": notify_ms}, separators=(",", ":"),
                      ensure_ascii=False).encode()


def headers(content: bytes, secret: str) -> dict[str, str]:
    return {"Content-Type": "application/json", **sign(content, secret)}


def verify(content: bytes, received: Mapping[str, str], secret: str) -> bool:
    """What a receiver checks: both headers match the body signed with its secret."""
    got = {name.lower(): value for name, value in received.items()}
    return all(hmac.compare_digest(got.get(name.lower(), ""), value)
               for name, value in sign(content, secret).items())
