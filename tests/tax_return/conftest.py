"""Fixtures for returns: an office (a firm with one user per role, a client assigned to the preparer, the
client's portal token and the service identity), and helpers that drive returns through the API."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime

import pytest_asyncio

from domain.tax_return.models import TaxReturn


@dataclass
class Office:
    firm_id: uuid.UUID
    users: dict  # role → StaffUser
    headers: dict  # role → bearer headers; "client" is the portal client, "system" the service identity
    client: dict


async def portal_headers(tp, email: str) -> dict:
    auth = tp.state.authenticator
    async with tp.state.sessionmaker.begin() as session:
        links = await auth.request_magic_links(session, email)
    async with tp.state.sessionmaker.begin() as session:
        pair = await auth.verify_magic_link(session, links[0].token)
    return {"Authorization": f"Bearer {pair.access_token}"}


async def make_staff(tp, roles=("admin", "ea_cpa", "reviewer", "preparer")) -> tuple[uuid.UUID, dict, dict]:
    firm = await tp.new_firm()
    users, headers = {}, {}
    for role in roles:
        users[role], headers[role] = await tp.staff(firm, role)  # ≈ 1.7 s each (password hashing)
    headers["system"] = {"Authorization": f"Bearer {tp.settings.service_token}"}
    return firm, users, headers


async def office_with_client(tp, firm_id, users: dict, headers: dict) -> Office:
    client = await tp.new_client(headers["admin"], assigned_preparer_id=str(users["preparer"].id))
    return Office(firm_id, users, {**headers, "client": await portal_headers(tp, client["email"])}, client)


async def make_office(tp) -> Office:
    """A firm of its own, for tests that count everything a role sees."""
    return await office_with_client(tp, *await make_staff(tp))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shared_staff(tp):
    """One firm's staff shared by the return tests (creating users is the slow part); each test gets its own
    client, so tests stay independent as long as they look at their own client's returns."""
    return await make_staff(tp)


@pytest_asyncio.fixture(loop_scope="session")
async def office(tp, shared_staff) -> Office:
    return await office_with_client(tp, *shared_staff)


async def create_return(tp, headers: dict, client_id: str, tax_year: int = 2024, return_type: str = "1040",
                        **fields) -> dict:
    response = await tp.http.post("/v1/returns", headers=headers, json={
        "client_id": client_id, "tax_year": tax_year, "return_type": return_type, **fields})
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def transition(tp, headers: dict, return_id: str, action: str, notes: str | None = None, expect: int = 200):
    response = await tp.http.post(f"/v1/returns/{return_id}/workflow/transition", headers=headers,
                                  json={"action": action, **({"notes": notes} if notes else {})})
    assert response.status_code == expect, f"{action}: {response.status_code} {response.text}"
    return response.json()


async def wait_for_status(tp, headers: dict, return_id: str, status: str, timeout_s: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        response = await tp.http.get(f"/v1/returns/{return_id}", headers=headers)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        if data["status"] == status:
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"return stayed {data['status']}, expected {status}")
        await asyncio.sleep(0.05)


async def walk_to_approved(tp, h: dict, rid: str) -> None:
    """intake → approved through the API, each step by the role that takes it (`h`: headers by role; the AI
    analysis between start_prep and in_prep is waited for)."""
    await transition(tp, h["preparer"], rid, "mark_ready_for_prep")
    await transition(tp, h["preparer"], rid, "start_prep")
    await wait_for_status(tp, h["preparer"], rid, "in_prep")
    await transition(tp, h["preparer"], rid, "submit_for_review")
    await transition(tp, h["reviewer"], rid, "start_review")
    await transition(tp, h["reviewer"], rid, "approve")


def assert_problem(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    if code is not None:
        assert body["type"].endswith("/" + code), body
    return body


async def insert_return(tp, office, status: str, entered_at: datetime, due: date) -> TaxReturn:
    """A return row written directly, so its workflow can be started on the server a test chooses."""
    async with tp.state.sessionmaker.begin() as session:
        tax_return = TaxReturn(
            id=uuid.uuid4(), firm_id=office.firm_id, client_id=uuid.UUID(office.client["id"]),
            tax_year=2024 + len(office.users) + int(time.time() * 1000) % 10_000,  # unique per client
            return_type="1040", status=status, status_entered_at=entered_at,
            assigned_preparer_id=office.users["preparer"].id, extension_filed=False, due_date=due,
            priority="normal", federal_status="not_started", state_filings=[])
        session.add(tax_return)
    return tax_return


async def poll(check, timeout_s: float = 15.0):
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.1)
