"""Fixtures for invoices, Stripe webhooks and estimated payments.

The payments sandbox runs in the test event loop on the port `make_settings` reserved (STRIPE_API_BASE), so
the Stripe SDK in the in-process workers talks HTTP to it; its webhooks are delivered to the in-process app
through `tp.http`, signed by the same code that signs them for `make run`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from urllib.parse import urlparse

import httpx
import pytest
import pytest_asyncio

from domain.tax_return.models import TaxReturn
from sandboxes.payments import PaymentsSandbox, serve
from tests.support import start_time_skipping

PROBLEM_JSON = "application/problem+json"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def problem(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    if code is not None:
        assert body["type"].rsplit("/", 1)[1] == code, body
    return body


async def client_headers(tp, email: str) -> dict:
    """A portal client's token through the magic-link flow."""
    async with tp.state.sessionmaker.begin() as session:
        links = await tp.state.authenticator.request_magic_links(session, email)
    async with tp.state.sessionmaker.begin() as session:
        pair = await tp.state.authenticator.verify_magic_link(session, links[0].token)
    return bearer(pair.access_token)


async def new_return(tp, firm_id: uuid.UUID, client_id: str, tax_year: int = 2026,
                     preparer_id: uuid.UUID | None = None) -> uuid.UUID:
    """A tax return row (the returns API lives on another branch; the table is the foundation's)."""
    async with tp.state.sessionmaker.begin() as session:
        row = TaxReturn(id=uuid.uuid4(), firm_id=firm_id, client_id=uuid.UUID(client_id), tax_year=tax_year,
                        return_type="1040", status="intake", due_date=date(tax_year + 1, 4, 15),
                        assigned_preparer_id=preparer_id, extension_filed=False, priority="normal",
                        federal_status="not_started", state_filings=[])
        session.add(row)
    return row.id


@dataclass
class Billing:
    """A firm with an admin and a client (with email and phone) to bill."""
    firm_id: uuid.UUID
    admin_id: uuid.UUID
    admin: dict
    client: dict


@pytest.fixture
async def billing(tp) -> Billing:
    firm_id = await tp.new_firm("Billing firm")
    admin_id, admin = await tp.staff_session(firm_id, "admin")
    client = await tp.new_client(admin, phone="+1 (555) 010-4477")
    return Billing(firm_id, admin_id, admin, client)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def payments(tp) -> PaymentsSandbox:
    """The payments sandbox, delivering its signed webhooks to the in-process app."""

    async def deliver(payload: bytes, headers: dict[str, str]) -> int:
        return (await tp.http.post("/v1/webhooks/stripe", content=payload, headers=headers)).status_code

    sandbox = PaymentsSandbox(webhook_secrets=[tp.settings.stripe_webhook_secret], deliver=deliver,
                              retry_delays_s=(0.2, 0.5, 1.0))
    running = await serve(sandbox, urlparse(tp.settings.stripe_api_base).port)
    try:
        yield sandbox
    finally:
        await running.stop()


async def pay(sandbox: PaymentsSandbox, payment_link: str, card: str = "4242 4242 4242 4242") -> dict:
    """What a person does on the pay page, over HTTP; then wait for the webhooks to be delivered."""
    async with httpx.AsyncClient() as http:
        response = await http.post(payment_link, data={"card_number": card}, headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    await sandbox.drain()
    return response.json()


@pytest_asyncio.fixture(loop_scope="session")
async def time_skipping():
    """The Java time-skipping test server, with the project's search attributes registered. One per test (it
    starts in a tenth of a second): its clock only moves forward, and the API checks dates against the wall
    clock (an invoice is due at most a year ahead), so a test must not inherit the years another one skipped."""
    env = await start_time_skipping()
    try:
        yield env
    finally:
        await env.shutdown()


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)
