"""Which hosts a recorder may fetch layout images from: the SSRF guard (spec §5.1 image URLs).

An image URL comes from the customer, and the recorder fetches it from inside the operator's
network. A host name is resolved here once, every address it resolves to is checked, and the
connection then goes to one of those checked addresses (no second lookup an attacker's DNS
could answer differently). Loopback, link-local (cloud metadata at 169.254.169.254), private,
shared, unspecified, multicast and reserved addresses are refused unless the operator allows
their network: `CLOUDREC_ALLOW_PRIVATE_IMAGE_HOSTS` (`cloudrec serve
--allow-private-image-hosts`) lists CIDR networks, e.g. "127.0.0.0/8,10.0.0.0/8".
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass

ALLOW_ENV = "CLOUDREC_ALLOW_PRIVATE_IMAGE_HOSTS"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]


class RefusedHost(Exception):
    """The image's host is not one a recorder may fetch from (the reason says why)."""


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to for a TCP connection."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(address: Address) -> bool:
    """An address on the public internet (an IPv4-mapped IPv6 address is judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (address.is_multicast or address.is_reserved
                                       or address.is_unspecified)


def parse_networks(text: str) -> tuple[Network, ...]:
    """A comma-separated list of CIDR networks (ValueError for a bad one)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class HostPolicy:
    """Public addresses, plus the private networks the operator allowed."""

    allowed: tuple[Network, ...] = ()
    resolver: Resolver = resolve

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> HostPolicy:
        return cls(parse_networks(env.get(ALLOW_ENV, "")))

    def permits(self, address: Address) -> bool:
        return is_public(address) or any(address in network for network in self.allowed)

    def address_of(self, host: str, port: int) -> str:
        """The address to connect to for `host`, once all it resolves to are permitted."""
        try:
            found = self.resolver(host, port)
        except OSError as error:
            raise RefusedHost(f"cannot resolve {host}: {error}") from None
        if not found:
            raise RefusedHost(f"cannot resolve {host}")
        for text in found:
            if not self.permits(ipaddress.ip_address(text.split("%")[0])):
                raise RefusedHost(f"{host} resolves to {text}, a loopback, link-local or "
                                  "private address the operator has not allowed")
        return found[0]
