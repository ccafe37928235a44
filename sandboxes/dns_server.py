"""A DNS server (UDP) whose answers follow a script: a name may answer one address now and another at the next
lookup, with a zero TTL, as a DNS rebinding attacker's server does. The tests point the webhook target resolver
at it (OUTBOUND_WEBHOOK_NAMESERVERS) to prove each attempt checks what it connects to.

    server = await serve_dns()                       # 127.0.0.1, a free port
    server.script("hooks.example.test", "A", ["203.0.113.5"], ["127.0.0.1"])   # one answer per lookup, the last repeats
    server.queries                                   # every (name, type) asked, in order

Messages are read and written by dnspython (the same library our resolver uses is not what decides here: the
server only answers what the script says). A name with no script for any type is NXDOMAIN; a scripted name asked
for a type it has no script for answers no records.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

HOST = "127.0.0.1"


@dataclass
class DnsServer:
    address: str = HOST
    port: int = 0
    queries: list[tuple[str, str]] = field(default_factory=list)
    _scripts: dict[tuple[str, str], list[list[str]]] = field(default_factory=dict)
    _asked: dict[tuple[str, str], int] = field(default_factory=dict)
    _transport: asyncio.DatagramTransport | None = None

    @property
    def nameserver(self) -> str:
        return f"{self.address}:{self.port}"

    def script(self, name: str, rdtype: str, *answers: list[str]) -> None:
        """The answers to successive lookups of (name, type); the last one repeats."""
        key = (name.lower().rstrip("."), rdtype.upper())
        self._scripts[key], self._asked[key] = [list(a) for a in answers], 0

    def asked(self, name: str, rdtype: str = "A") -> int:
        return sum(1 for q in self.queries if q == (name.lower().rstrip("."), rdtype.upper()))

    def _answer(self, data: bytes) -> bytes:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        for question in query.question:
            name = question.name.to_text(omit_final_dot=True).lower()
            rdtype = dns.rdatatype.to_text(question.rdtype)
            self.queries.append((name, rdtype))
            if not any(key[0] == name for key in self._scripts):
                response.set_rcode(dns.rcode.NXDOMAIN)
                continue
            script = self._scripts.get((name, rdtype))
            if not script:
                continue
            turn = self._asked[(name, rdtype)]
            self._asked[(name, rdtype)] = turn + 1
            addresses = script[min(turn, len(script) - 1)]
            if addresses:
                response.answer.append(dns.rrset.from_text(question.name, 0, "IN", rdtype, *addresses))
        return response.to_wire()

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer):
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        try:
            self.transport.sendto(self.server._answer(data), addr)
        except Exception:  # noqa: BLE001 (a malformed packet: no answer, as a real server would drop it)
            pass


async def serve_dns(address: str = HOST) -> DnsServer:
    """Listen on a free UDP port in the current event loop."""
    server = DnsServer(address)
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: _Protocol(server), local_addr=(address, 0))
    server._transport = transport
    server.port = transport.get_extra_info("sockname")[1]
    return server
