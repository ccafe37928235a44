"""The load generator's HTTP client for measured calls: HTTP/1.1 over keep-alive connections, one request at a
time on each, JSON in, bytes out, nothing else.

Why not httpx, which the rest of the benchmarks use to set up data: the load generator shares the two cores
with the stack it measures, and httpx spends ~3 ms of CPU per request (measured in bench_tax_return), against
~1 ms for the Temporal SDK client that drives the bare-Update baseline. Charging the API's figures with
2 ms of client work would compare the clients, not the servers. This client spends a few tenths of a ms.

It understands what uvicorn sends: a status line, headers, a body of Content-Length bytes. A chunked answer is
refused rather than misread.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit


class HttpError(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:500]!r}")
        self.status = status
        self.body = body


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class LeanHttp:
    def __init__(self, base_url: str) -> None:
        url = urlsplit(base_url)
        if url.scheme != "http" or url.hostname is None or url.port is None:
            raise ValueError(f"an http://host:port URL is needed, not {base_url!r}")
        self._host, self._port = url.hostname, url.port
        self._host_header = f"{url.hostname}:{url.port}"
        self._idle: list[Connection] = []

    async def post(self, path: str, headers: dict[str, str], body: object) -> bytes:
        return await self.request("POST", path, headers, json.dumps(body).encode())

    async def get(self, path: str, headers: dict[str, str]) -> bytes:
        return await self.request("GET", path, headers, None)

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> bytes:
        """The answer's body; an HttpError for a status of 400 or more."""
        connection = self._idle.pop() if self._idle else await asyncio.open_connection(self._host, self._port)
        try:
            status, answer, keep_alive = await self._exchange(connection, method, path, headers, body)
        except BaseException:
            connection[1].close()
            raise
        if keep_alive:
            self._idle.append(connection)
        else:
            connection[1].close()
        if status >= 400:
            raise HttpError(status, answer)
        return answer

    async def _exchange(self, connection: Connection, method: str, path: str, headers: dict[str, str],
                        body: bytes | None) -> tuple[int, bytes, bool]:
        reader, writer = connection
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self._host_header}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        status = int((await reader.readline()).split(b" ", 2)[1])
        length, keep_alive = None, True
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value == "close":
                keep_alive = False
            elif name == "transfer-encoding" and value != "identity":
                raise ValueError(f"transfer-encoding {value!r} is not understood by this client")
        if length is None:  # the body runs to the end of the connection
            return status, await reader.read(), False
        return status, await reader.readexactly(length), keep_alive

    def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()
