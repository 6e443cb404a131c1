"""Configuration of the REST layer: customers, the resourceId key, limits and the clock."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cloudrec.api.auth import Customer

# The areas of acquire's `region` (§4): mainland China, Asia without it, Europe, North America.
ALL_REGIONS = frozenset({"CN", "AP", "EU", "NA"})

DEFAULT_RATE_PER_SECOND = 10.0
DEFAULT_MAX_BODY_BYTES = 1 << 20


@dataclass(frozen=True)
class ApiSettings:
    """Everything ``create_app`` needs besides the backend.

    ``clock`` returns Unix seconds; it dates resourceIds (the 5-minute start window) and
    refills the per-App-ID rate limit, and tests replace it.
    """

    customers: tuple[Customer, ...]
    resource_key: bytes = field(repr=False)
    rate_limit_per_second: float = DEFAULT_RATE_PER_SECOND
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    clock: Callable[[], float] = time.time
    regions: frozenset[str] = ALL_REGIONS  # the areas this deployment serves (acquire §4)

    def __post_init__(self) -> None:
        object.__setattr__(self, "customers", tuple(self.customers))
        if self.rate_limit_per_second <= 0:
            raise ValueError("rate_limit_per_second must be positive")
        if not self.regions or not self.regions <= ALL_REGIONS:
            raise ValueError(f"regions must be some of {', '.join(sorted(ALL_REGIONS))}")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ApiSettings:
        """Read ``CLOUDREC_CUSTOMERS`` (``id:secret:app1,app2`` entries separated by ``;``),
        ``CLOUDREC_RESOURCE_KEY`` and optionally ``CLOUDREC_RATE_LIMIT`` and
        ``CLOUDREC_REGIONS`` (comma-separated)."""
        env = os.environ if environ is None else environ
        return cls(
            customers=tuple(_parse_customers(env.get("CLOUDREC_CUSTOMERS", ""))),
            resource_key=env["CLOUDREC_RESOURCE_KEY"].encode(),
            rate_limit_per_second=float(env.get("CLOUDREC_RATE_LIMIT", DEFAULT_RATE_PER_SECOND)),
            regions=parse_regions(env.get("CLOUDREC_REGIONS", "")),
        )


def parse_regions(text: str) -> frozenset[str]:
    """`EU` or `CN,AP`: the areas a deployment serves; empty means all of them."""
    return frozenset(r.strip().upper() for r in text.split(",") if r.strip()) or ALL_REGIONS


def _parse_customers(text: str) -> Iterable[Customer]:
    for entry in filter(None, (e.strip() for e in text.split(";"))):
        customer_id, secret, apps = entry.split(":", 2)
        yield Customer(customer_id, secret, frozenset(a for a in apps.split(",") if a))
