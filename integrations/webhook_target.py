"""Safe targets for outbound webhooks (SSRF): a firm may point an endpoint anywhere, so the system must never be
the one that reaches into its own network for it.

- the URL: `https` only (plus `http` where local targets are allowed: development), no user info, a host;
- the host resolved, and **every** address it resolves to checked: only globally routable unicast addresses
  pass. That refuses loopback, private (10/8, 172.16/12, 192.168/16), shared (100.64/10), link-local (169.254/16,
  with the cloud metadata address 169.254.169.254), unique-local (fc00::/7), IPv6 link-local, multicast,
  reserved and unspecified addresses, and the IPv6 forms that embed an IPv4 address (mapped ::ffff:a.b.c.d,
  NAT64 64:ff9b::/96, 6to4, Teredo), which are checked as the IPv4 address they carry;
- the connection goes to the address that was checked (webhook_sender.py), never to a second resolution of the
  name, so DNS rebinding between check and connect changes nothing; redirects are not followed.

Where local targets are allowed (development, `OUTBOUND_WEBHOOK_ALLOW_LOCAL`), `http` and loopback addresses pass,
so an engineer can point a webhook at a receiver on the same machine; the metadata addresses never do.

The policy (`TargetPolicy`) also holds what an operator may widen or narrow in production:
- `allowed_networks` (`OUTBOUND_WEBHOOK_ALLOWED_NETWORKS`): networks that pass although not public, such as a
  partner reached over a private link; https is still required and the metadata addresses are still refused;
- the resolver (`OUTBOUND_WEBHOOK_NAMESERVERS`): by default the system's (getaddrinfo); set, names are looked
  up with dnspython at those servers only, e.g. a resolver that knows only public DNS, so no internal name of
  ours (split-horizon DNS) can be a target. The tests point it at a DNS server whose answers change between
  lookups (DNS rebinding: tests/outbound_webhook/test_webhook_rebinding.py).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
RESOLVE_TIMEOUT_S = 5.0

# Cloud metadata services (AWS, GCP and Azure use the IPv4 one; AWS's IPv6 one is unique-local): never, anywhere.
METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeTarget(ValueError):
    """The URL may not be a webhook target; the message says why, for the 422 and the delivery log."""

    def __init__(self, message: str, code: str = "webhook_url_forbidden"):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written (a name, or an address without brackets)
    port: int
    path: str  # with its query

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    def url_for(self, address: IPAddress) -> str:
        """The URL with the checked address in place of the host: what is connected to."""
        host = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.scheme}://{host}:{self.port}{self.path}"


class Resolver(Protocol):
    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        """Every address the name resolves to; UnsafeTarget (webhook_url_unresolvable) when none."""
        ...


class SystemResolver:
    """The operating system's resolver (getaddrinfo: /etc/hosts, then the configured DNS servers)."""

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror:
            raise UnsafeTarget(f"{host} does not resolve", "webhook_url_unresolvable") from None
        return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))


class NameserverResolver:
    """DNS at the given servers only (`host` or `host:port`, IPv6 as `[addr]:port`), A and AAAA, nothing cached:
    every check asks again, as a rebinding attacker's zero TTL would have it anyway."""

    def __init__(self, nameservers: list[str], timeout_s: float = RESOLVE_TIMEOUT_S):
        self._resolver = dns.asyncresolver.Resolver(configure=False)
        self._resolver.nameservers = [_nameserver(value) for value in nameservers]
        self._resolver.lifetime = timeout_s

    async def _records(self, host: str, rdtype: str) -> list[IPAddress]:
        try:
            answer = await self._resolver.resolve(host, rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.resolver.NoNameservers, dns.exception.Timeout):
            raise UnsafeTarget(f"{host} could not be looked up", "webhook_url_unresolvable") from None
        return [ipaddress.ip_address(record.address) for record in answer]

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        found = await self._records(host, "A") + await self._records(host, "AAAA")
        if not found:
            raise UnsafeTarget(f"{host} does not resolve", "webhook_url_unresolvable")
        return list(dict.fromkeys(found))


def _nameserver(value: str) -> dns.nameserver.Do53Nameserver:
    host, port = value, 53
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = int(rest.removeprefix(":") or 53)
    elif value.count(":") == 1:
        host, port_text = value.split(":")
        port = int(port_text)
    return dns.nameserver.Do53Nameserver(str(ipaddress.ip_address(host)), port)


@dataclass(frozen=True)
class TargetPolicy:
    """Where a webhook may point (built from the settings: integrations/build.py `build_target_policy`)."""

    allow_local: bool  # http, and loopback addresses (development)
    allowed_networks: tuple[IPNetwork, ...] = ()  # pass although not public (never the metadata addresses)
    resolver: Resolver = SystemResolver()


def parse(url: str, allow_local: bool) -> Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"not a valid URL: {exc}", "webhook_url_invalid") from None
    schemes = ("https", "http") if allow_local else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeTarget(f"the URL must use {' or '.join(schemes)}", "webhook_url_scheme")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("the URL may not carry a user name or password", "webhook_url_invalid")
    if not parts.hostname:
        raise UnsafeTarget("the URL has no host", "webhook_url_invalid")
    if parts.fragment:
        raise UnsafeTarget("the URL may not carry a fragment", "webhook_url_invalid")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def refusal(address: IPAddress, allow_local: bool, allowed_networks: tuple[IPNetwork, ...] = ()) -> str | None:
    """None when the address may be connected to; else why not."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = refusal(embedded, allow_local, allowed_networks)
        return f"{reason} (embedded in {address})" if reason else None
    if address in METADATA:
        return f"{address} is a cloud metadata address"
    if any(address in network for network in allowed_networks if network.version == address.version):
        return None
    if address.is_loopback:
        return None if allow_local else f"{address} is a loopback address"
    if address.is_multicast or not address.is_global:
        return f"{address} is not a public address (private, link-local, unique-local or reserved)"
    return None


async def resolve(target: Target, policy: TargetPolicy) -> list[IPAddress]:
    """Every address the host resolves to, each checked; refused if any is forbidden (a name that resolves to a
    public and a private address is not a public target)."""
    try:
        addresses = [ipaddress.ip_address(target.host)]
    except ValueError:
        addresses = await policy.resolver.addresses(target.host, target.port)
    for address in addresses:
        reason = refusal(address, policy.allow_local, policy.allowed_networks)
        if reason:
            raise UnsafeTarget(f"{target.host} resolves to a forbidden address: {reason}")
    return addresses


async def check(url: str, policy: TargetPolicy) -> tuple[Target, list[IPAddress]]:
    """The URL's target and the addresses checked, which are the ones to connect to (one lookup per check)."""
    target = parse(url, policy.allow_local)
    return target, await resolve(target, policy)
