"""Fixtures for the operations tests: health, metrics, logs, traces, the operator's CLI and the dev pages."""

from __future__ import annotations

import asyncio
import uuid

import pytest_asyncio
import uvicorn

from devstack.ports import free_port


@pytest_asyncio.fixture(loop_scope="session")
async def firm(tp) -> uuid.UUID:
    return await tp.new_firm("Operations firm")


@pytest_asyncio.fixture(loop_scope="session")
async def admin(tp, firm) -> dict:
    return (await tp.staff_session(firm, "admin"))[1]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def api_url(tp):
    """The suite's app on a real port, in this event loop (its workers run here too)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(tp.http._transport.app, host="127.0.0.1", port=port, log_config=None,
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task
