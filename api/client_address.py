"""Who is calling, by network address: the socket's peer, or, when that peer is one of our own proxies (a load
balancer), the address the proxy says it forwarded for. Trusting X-Forwarded-For from anyone else would let a
caller pick the address its rate limit and audit rows are counted under (issue 13)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """TRUSTED_PROXIES: addresses or CIDR blocks of the proxies in front of the API."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str | None, forwarded_for: str | None, networks: tuple[Network, ...]) -> str | None:
    """The peer, unless it is a trusted proxy: then the right-most X-Forwarded-For entry that is not one of ours
    (entries to its left were written by the caller, who may write anything)."""
    if peer is None or not networks or not _trusted(peer, networks) or not forwarded_for:
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:  # not an address: the chain is not to be believed past this point
                return peer
    return peer
