"""The gateway in front of the service: HTTP Basic customers, App ID binding, rate limit.

Answers, all ``{"message": ...}`` (spec decisions 1 and 2):

* missing or wrong credentials (no ``Basic`` scheme, bad base64, unknown id, wrong secret)
  → 401 ``Invalid authentication credentials``;
* an App ID the customer does not own → 400 ``invalid appid``. 400, not 401: the credentials
  are valid, the App ID is the bad parameter — the status the spec gives an App ID without
  Cloud Recording (§10), so an unknown app and another customer's app look the same;
* more than the configured requests per second for one App ID → 429 ``API rate limit
  exceeded``. Only authenticated calls for an owned App ID count, so strangers cannot spend
  an app's budget.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from fastapi import Request

from cloudrec.api.errors import BAD_CREDENTIALS, INVALID_APPID, RATE_LIMITED, GatewayError

_CHALLENGE = (("WWW-Authenticate", 'Basic realm="cloudrec"'),)


@dataclass(frozen=True)
class Customer:
    """A RESTful credential pair ("Customer ID" / "Customer Secret") and the apps it owns."""

    customer_id: str
    secret: str = field(repr=False)
    app_ids: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "app_ids", frozenset(self.app_ids))

    def owns(self, appid: str) -> bool:
        return appid in self.app_ids


class RateLimit:
    """A token bucket per App ID: ``rate`` tokens a second, bursts of up to ``rate``."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._buckets: dict[str, tuple[float, float]] = {}  # appid → (tokens, last refill)

    def allow(self, appid: str, now: float) -> bool:
        tokens, last = self._buckets.get(appid, (self._rate, now))
        tokens = min(self._rate, tokens + max(0.0, now - last) * self._rate)
        allowed = tokens >= 1.0
        self._buckets[appid] = (tokens - 1.0 if allowed else tokens, now)
        return allowed


class Gateway:
    """A FastAPI dependency run before every endpoint; raises :class:`GatewayError`."""

    def __init__(self, customers: Iterable[Customer], rate: float,
                 clock: Callable[[], float]) -> None:
        self._customers = {c.customer_id: c for c in customers}
        self._limit = RateLimit(rate)
        self._clock = clock

    async def __call__(self, request: Request, appid: str) -> Customer:
        customer = self.authenticate(request.headers.get("authorization"))
        if not customer.owns(appid):
            raise GatewayError(400, INVALID_APPID)
        if not self._limit.allow(appid, self._clock()):
            raise GatewayError(429, RATE_LIMITED, (("Retry-After", "1"),))
        return customer

    def authenticate(self, header: str | None) -> Customer:
        customer_id, secret = _basic_credentials(header) or ("", "")
        customer = self._customers.get(customer_id)
        if customer is None or not hmac.compare_digest(customer.secret.encode(), secret.encode()):
            raise GatewayError(401, BAD_CREDENTIALS, _CHALLENGE)
        return customer


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    customer_id, colon, secret = decoded.partition(":")
    return (customer_id, secret) if colon else None
