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


class _ClosedBeforeAnswering(Exception):
    """The connection ended before a status line arrived."""


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
        connection = self._reusable()
        try:
            if connection is None:
                connection = await asyncio.open_connection(self._host, self._port)
                status, answer, keep_alive = await self._exchange(connection, method, path, headers, body)
            else:
                try:
                    status, answer, keep_alive = await self._exchange(connection, method, path, headers, body)
                except _ClosedBeforeAnswering:
                    # The server closed the idle connection as the request went out: it read none of it, so
                    # sending it again on a new connection is safe (what urllib3 and httpx do).
                    connection[1].close()
                    connection = await asyncio.open_connection(self._host, self._port)
                    status, answer, keep_alive = await self._exchange(connection, method, path, headers, body)
        except BaseException:
            if connection is not None:
                connection[1].close()
            raise
        if keep_alive:
            self._idle.append(connection)
        else:
            connection[1].close()
        if status >= 400:
            raise HttpError(status, answer)
        return answer

    def _reusable(self) -> Connection | None:
        """An idle connection the server has not closed. uvicorn closes keep-alive connections idle for 5 s,
        which happens between a benchmark's rounds while it waits for the stack to settle."""
        while self._idle:
            reader, writer = self._idle.pop()
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()
        return None

    async def _exchange(self, connection: Connection, method: str, path: str, headers: dict[str, str],
                        body: bytes | None) -> tuple[int, bytes, bool]:
        reader, writer = connection
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self._host_header}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        try:
            status_line = await reader.readline()
        except ConnectionResetError:
            raise _ClosedBeforeAnswering() from None
        if not status_line:
            raise _ClosedBeforeAnswering()
        status = int(status_line.split(b" ", 2)[1])
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
