"""Fixtures for the documents area: a firm with staff, a client with a return, portal sign-in, uploads."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass
from datetime import date

import pytest_asyncio

from domain.tax_return.models import TaxReturn

TERMINAL = ("processed", "review_required")


@dataclass
class Office:
    """One firm, its admin's headers, a client and the client's 2024 return."""

    firm_id: uuid.UUID
    admin: dict
    client: dict
    return_id: uuid.UUID


async def new_return(tp, firm_id: uuid.UUID, client_id, tax_year: int = 2024, return_type: str = "1040",
                     status: str = "intake") -> uuid.UUID:
    """A return row as the returns capability creates it (its workflow is not part of this area)."""
    async with tp.state.sessionmaker.begin() as session:
        tax_return = TaxReturn(id=uuid.uuid4(), firm_id=firm_id, client_id=uuid.UUID(str(client_id)),
                               tax_year=tax_year, return_type=return_type, status=status,
                               due_date=date(tax_year + 1, 4, 15), state_filings=[])
        session.add(tax_return)
    return tax_return.id


async def portal_headers(tp, email: str) -> dict:
    """A client's token through the real portal sign-in: magic link by mail, then verify-link."""
    response = await tp.http.post("/v1/portal/auth/magic-link", json={"email": email})
    assert response.status_code == 200, response.text
    message = await tp.wait_for_mail(email)
    token = re.search(r"Token: (\S+)", message["text"]).group(1)
    verified = await tp.http.post("/v1/portal/auth/verify-link", json={"token": token})
    assert verified.status_code == 200, verified.text
    return {"Authorization": f"Bearer {verified.json()['access_token']}"}


async def upload(tp, headers: dict, content: bytes, filename: str = "W2_Acme_2024.pdf", **fields):
    form = {k: str(v) for k, v in fields.items() if v is not None}
    return await tp.http.post("/v1/documents", headers=headers, data=form,
                              files={"file": (filename, content, "application/octet-stream")})


async def wait_processed(tp, headers: dict, document_id: str, timeout_s: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = await tp.http.get(f"/v1/documents/{document_id}", headers=headers)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        if data["status"] in TERMINAL:
            return data
        await asyncio.sleep(0.1)
    raise AssertionError(f"document {document_id} still {data['status']} after {timeout_s} s")


async def workflow_result(tp, document_id: str):
    from orchestration import ids

    from activities.document import DocumentOutcome

    handle = tp.temporal.get_workflow_handle(ids.document(uuid.UUID(document_id)), result_type=DocumentOutcome)
    return await handle.result()


@pytest_asyncio.fixture(loop_scope="session")
async def office(tp) -> Office:
    firm_id = await tp.new_firm()
    _, admin = await tp.staff(firm_id, "admin")
    client = await tp.new_client(admin)
    return_id = await new_return(tp, firm_id, client["id"])
    return Office(firm_id, admin, client, return_id)


@pytest_asyncio.fixture(loop_scope="session")
async def small_cap(tp):
    """The upload cap lowered for one test (the API reads it per request), so "one byte over" costs 2 MB,
    not 50; the benchmark sends real 50 MB files."""
    original = tp.settings.document_max_bytes
    tp.settings.document_max_bytes = 2 * 1024 * 1024
    try:
        yield tp.settings.document_max_bytes
    finally:
        tp.settings.document_max_bytes = original


@dataclass
class Sandboxes:
    sureprep: str
    smartvault: str


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def sandboxes(tp):
    """The SurePrep and SmartVault sandboxes on free ports, and the app's settings pointed at them; the workers
    are restarted to build their providers from these settings (and again when they are restored afterwards)."""
    from sandboxes import smartvault, sureprep

    settings = tp.settings
    sp = sureprep.start(settings.sureprep_api_key, settings.sureprep_webhook_secret)
    sv = smartvault.start(settings.smartvault_api_key, settings.smartvault_webhook_secret)
    saved = settings.sureprep_api_url, settings.smartvault_api_url
    settings.sureprep_api_url, settings.smartvault_api_url = sp.url, sv.url
    await tp.restart_workers()
    try:
        yield Sandboxes(sp.url, sv.url)
    finally:
        settings.sureprep_api_url, settings.smartvault_api_url = saved
        await tp.restart_workers()
        sp.stop()
        sv.stop()


async def deliver_webhooks(tp, sandbox_url: str, path: str) -> list[tuple[dict, object]]:
    """Hand the sandbox's signed deliveries to the in-process app, byte for byte (the app has no port here)."""
    import httpx

    async with httpx.AsyncClient() as http:
        deliveries = (await http.get(f"{sandbox_url}/_sandbox/outbox")).json()
    results = []
    for delivery in deliveries:
        response = await tp.http.post(path, content=delivery["body"].encode(), headers=delivery["headers"])
        results.append((delivery, response))
    return results
