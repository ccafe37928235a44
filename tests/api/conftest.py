"""The API over a real socket, for the tools that speak HTTP themselves (schemathesis, a generated client)."""

from __future__ import annotations

import asyncio
import socket

import pytest_asyncio
import uvicorn

from api.app import create_app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def api_url(tp):
    """uvicorn serving the app in the session's event loop (where the harness's Temporal workers run), sharing
    the harness's state; no lifespan, since the harness owns the database engine."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(tp.settings, tp.state), host="127.0.0.1", port=port,
                                           lifespan="off", log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task
