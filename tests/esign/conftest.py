"""Fixtures for e-signatures: a firm with senior staff and a client, and what a signer does on the sandbox's
signing page (the link from the mail capture, the ESIGN consent, a typed name, Sign or Decline), as a browser
does it: plain form posts."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass

import httpx
import pytest_asyncio

LINK = re.compile(r"(http://\S+/sign/[A-Za-z0-9_\-]+)")
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) TaxPracticeTest/1.0"


@dataclass
class Office:
    firm_id: uuid.UUID
    admin: dict
    client: dict


@pytest_asyncio.fixture(loop_scope="session")
async def office(tp) -> Office:
    firm_id = await tp.new_firm("Signing firm")
    _, admin = await tp.staff_session(firm_id, "admin")
    client = await tp.new_client(admin, name="Dana Q. Taxpayer")
    return Office(firm_id, admin, client)


async def signing_link(tp, email: str, count: int = 1, timeout_s: float = 15.0) -> str:
    """The link in the newest of `count` signing mails to this address."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        mails = [m for m in await tp.mail_to(email) if "sign" in m["subject"].lower()]
        if len(mails) >= count:
            return LINK.search(mails[-1]["text"]).group(1)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no signing mail #{count} to {email}")


async def complete_signing(link: str, action: str = "sign", typed_name: str = "Dana Q. Taxpayer",
                           reason: str = "") -> httpx.Response:
    """Open the page, consent to electronic records when asked, open the document, then Sign or Decline."""
    async with httpx.AsyncClient(headers={"User-Agent": BROWSER}, follow_redirects=True) as browser:
        page = await browser.get(link)
        assert page.status_code == 200, page.text
        if 'name="agree"' in page.text:
            assert "right to receive" in page.text and "Hardware and software" in page.text
            page = await browser.post(f"{link}/consent", data={"agree": "yes"})
            assert page.status_code == 200 and 'name="typed_name"' in page.text, page.text
        document = await browser.get(f"{link}/document")
        assert document.headers["content-type"] == "application/pdf"
        return await browser.post(link, data={"action": action, "typed_name": typed_name,
                                               "decline_reason": reason})


async def deliver_signature_events(tp) -> list[tuple[dict, httpx.Response]]:
    """Hand the sandbox's signed callbacks to the in-process app, byte for byte."""
    async with httpx.AsyncClient() as http:
        deliveries = (await http.get(f"{tp.settings.google_api_url}/_sandbox/outbox")).json()
    results = []
    for delivery in deliveries:
        response = await tp.http.post("/v1/webhooks/google", content=delivery["body"].encode(),
                                      headers=delivery["headers"])
        results.append((delivery, response))
    return results


async def signed_consent(tp, headers: dict, client: dict, **fields) -> dict:
    """A Form 7216 consent created, sent, signed by the client on the signing page and called back: the way a
    firm records one (default: disclosure to SurePrep for document processing, tax year 2024)."""
    body = {"tax_year": 2024, "consent_scope": "SurePrep document processing", "third_party_name": "SurePrep LLC",
            "disclosure_purpose": "Document OCR and data extraction for tax preparation", **fields}
    created = await tp.http.post(f"/v1/clients/{client['id']}/consents", json=body, headers=headers)
    assert created.status_code == 201, created.text
    consent_id = created.json()["data"]["id"]
    before = len([m for m in await tp.mail_to(client["email"]) if "sign" in m["subject"].lower()])
    sent = await tp.http.post(f"/v1/consents/{consent_id}/send", headers=headers)
    assert sent.status_code == 200, sent.text
    signed = await complete_signing(await signing_link(tp, client["email"], before + 1))
    assert signed.status_code == 200, signed.text
    results = await deliver_signature_events(tp)
    assert [r.json()["outcome"] for _, r in results] == ["applied"], [r.json() for _, r in results]
    got = await tp.http.get(f"/v1/consents/{consent_id}", headers=headers)
    assert got.json()["data"]["status"] == "signed"
    return got.json()["data"]
