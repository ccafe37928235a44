"""What the SurePrep and SmartVault sandboxes share: signed webhook events, delivered like the real services
deliver them (POST to the configured URL) and kept in an outbox a test can read and hand to the app it runs
in process (`GET /_sandbox/outbox`), and a uvicorn server on a background thread."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable

import httpx
import uvicorn

from integrations.webhook_hmac import hmac_header

HOST = "127.0.0.1"


class Outbox:
    def __init__(self, secret: str, signature_header: str, webhook_url: str | None):
        self.secret, self.signature_header, self.webhook_url = secret, signature_header, webhook_url
        self._events: list[dict] = []
        self._lock = threading.Lock()

    def emit(self, event_type: str, data: dict, created: int | None = None) -> dict:
        event = {"id": f"evt_{uuid.uuid4().hex}", "type": event_type, "created": created or int(time.time()),
                 "data": data}
        body = json.dumps(event, separators=(",", ":")).encode()
        delivery = {"event": event, "body": body.decode(),
                    "headers": {"Content-Type": "application/json",
                                self.signature_header: hmac_header(self.secret, body)}}
        with self._lock:
            self._events.append(delivery)
        if self.webhook_url:
            asyncio.get_running_loop().create_task(self._deliver(delivery))
        return event

    async def _deliver(self, delivery: dict) -> None:
        for attempt in range(5):  # the real services retry failed deliveries, with backoff
            try:
                async with httpx.AsyncClient(timeout=10) as http:
                    response = await http.post(self.webhook_url, content=delivery["body"].encode(),
                                               headers=delivery["headers"])
                if response.status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5 * 2 ** attempt)

    def drain(self) -> list[dict]:
        with self._lock:
            events, self._events = self._events, []
        return events


def tcp_socket() -> socket.socket:
    """A socket for a sandbox to listen on, for uvicorn (or aiosmtpd) to serve.

    IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on connections whose socket says so, and an accepted
    connection inherits this one's (proto 0 by default). Without it, a response written in two parts (headers,
    then the body) waited for the client's delayed ACK: ~40 ms per request on a kept-alive connection (measured on
    the portal sandbox's downloads, curl and httpx alike)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


class ThreadedServer:
    """A FastAPI app served by uvicorn on its own thread and event loop (tests and `python -m sandboxes.X`)."""

    def __init__(self, app, port: int = 0):
        sock = tcp_socket()
        sock.bind((HOST, port))
        self.port = sock.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=lambda: asyncio.run(self._server.serve(sockets=[sock])),
                                        daemon=True, name=f"sandbox-{self.port}")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._server.started:
            raise RuntimeError("sandbox did not start")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def serve_until_signalled(self, banner: str) -> None:
        """`python -m sandboxes.X`: print where it listens, serve until SIGINT/SIGTERM, then leave at once."""
        print(banner, flush=True)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        self.stop()
        os._exit(0)


def serve_from_command_line(name: str, description: str, default_port: int, webhook_path: str,
                            start: Callable[[str, str, str | None, int], ThreadedServer],
                            credentials: Callable[[object], tuple[str, str]]) -> None:
    """`python -m sandboxes.<name> [--port N] [--webhook-url URL]`: serve until SIGTERM or Ctrl-C.
    `credentials(settings)` gives the (API key, webhook secret) pair the app is configured with."""
    from settings import get_settings

    settings = get_settings()
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--webhook-url", default=f"{settings.api_base_url}{webhook_path}")
    args = parser.parse_args()
    server = start(*credentials(settings), args.webhook_url, args.port)
    server.serve_until_signalled(f"{name} sandbox on {server.url}, webhooks to {args.webhook_url}")
