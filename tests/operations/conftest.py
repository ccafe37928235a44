"""Fixtures for the operations tests: health, metrics, logs, traces, the operator's CLI and the dev pages."""

from __future__ import annotations

import uuid

import pytest_asyncio


@pytest_asyncio.fixture(loop_scope="session")
async def firm(tp) -> uuid.UUID:
    return await tp.new_firm("Operations firm")


@pytest_asyncio.fixture(loop_scope="session")
async def admin(tp, firm) -> dict:
    return (await tp.staff_session(firm, "admin"))[1]
