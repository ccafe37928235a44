"""Fixtures and checks shared by the foundation tests (auth, conventions, clients, admin, audit, CLI).

Every test makes its own firm, so tests never see each other's data. Staff who only need a token are made
without a password (`tp.staff_session`): hashing one costs an argon2 run, which only sign-in tests need to pay.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text


PROBLEM_JSON = "application/problem+json"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict:
    """An RFC 7807 answer as spec §3.3 shows it: type, title, status, detail, instance, meta."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://api.taxpractice.example.com/errors/")
    assert body["title"] and body["detail"]
    assert body["instance"] == response.request.url.path
    assert body["meta"]["request_id"].startswith("req-")
    assert response.headers["x-request-id"] == body["meta"]["request_id"]
    if code is not None:
        assert body["type"].rsplit("/", 1)[1] == code, body
    return body


async def sql(tp, statement: str, **params):
    """Raw SQL for checks and for test-data setup (e.g. moving a timestamp back to simulate idle time)."""
    async with tp.state.engine.begin() as conn:
        result = await conn.execute(text(statement), params)
        return result.all() if result.returns_rows else result.rowcount


@pytest.fixture
async def firm(tp) -> uuid.UUID:
    return await tp.new_firm()


@pytest.fixture
async def admin(tp, firm) -> dict:
    """Bearer headers of an admin of `firm`."""
    return (await tp.staff_session(firm, "admin"))[1]
