"""Form 7216 consents through HTTP, the signature sandbox and the consent's workflow."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from domain.audit.models import AuditEntry
from tests.billing.conftest import client_headers
from tests.esign.conftest import complete_signing, deliver_signature_events, signing_link
from tests.support import domain_events

SUREPREP = {"tax_year": 2024, "consent_scope": "SurePrep document processing", "third_party_name": "SurePrep LLC",
            "disclosure_purpose": "Document OCR and data extraction for tax preparation"}


async def create(tp, office, **overrides):
    return await tp.http.post(f"/v1/clients/{office.client['id']}/consents", json={**SUREPREP, **overrides},
                              headers=office.admin)


async def test_create_defaults_and_refusals(tp, office):
    response = await create(tp, office)
    assert response.status_code == 201, response.text
    consent = response.json()["data"]
    assert consent["status"] == "pending" and consent["kind"] == "disclosure"
    assert consent["purpose"] == "document_processing" and consent["template_version"] == "disclosure-2026.1"
    assert consent["information_covered"].startswith("the tax documents you provide")
    assert consent["expires_at"] is None and consent["signature"] is None

    other = await create(tp, office, third_party_name="Acme Analytics")
    assert other.status_code == 400 and other.json()["errors"][0]["field"] == "purpose"
    no_recipient = await create(tp, office, third_party_name=None)
    assert no_recipient.status_code == 400 and no_recipient.json()["errors"][0]["field"] == "third_party_name"
    bad_kind = await create(tp, office, kind=None)
    assert bad_kind.status_code == 400
    past = await create(tp, office, expires_at="2020-01-01T00:00:00Z")
    assert past.status_code == 400 and past.json()["errors"][0]["field"] == "expires_at"

    listed = await tp.http.get(f"/v1/clients/{office.client['id']}/consents", headers=office.admin)
    assert [c["id"] for c in listed.json()["data"]] == [consent["id"]]


async def test_send_sign_and_revoke(tp, office):
    consent = (await create(tp, office)).json()["data"]
    sent = await tp.http.post(f"/v1/consents/{consent['id']}/send", headers=office.admin)
    assert sent.status_code == 200, sent.text
    assert sent.json()["data"]["status"] == "sent"
    again = await tp.http.post(f"/v1/consents/{consent['id']}/send", headers=office.admin)
    assert again.json()["data"]["signature_request_id"] == sent.json()["data"]["signature_request_id"]

    link = await signing_link(tp, office.client["email"])
    signed_page = await complete_signing(link)
    assert signed_page.status_code == 200 and "You signed" in signed_page.text
    results = await deliver_signature_events(tp)
    assert [(d["event"]["type"], r.json()["outcome"]) for d, r in results] == [("signature.completed", "applied")]

    got = (await tp.http.get(f"/v1/consents/{consent['id']}", headers=office.admin)).json()["data"]
    assert got["status"] == "signed" and got["signed_at"] and got["expires_at"]
    evidence = got["signature"]["evidence"]
    assert evidence["typed_name"] == "Dana Q. Taxpayer" and evidence["ip_address"] == "127.0.0.1"
    assert "TaxPracticeTest" in evidence["user_agent"]
    assert evidence["document_sha256"] == got["signature"]["document_sha256"]
    assert [e["event"] for e in evidence["events"]][:2] == ["sent", "viewed"]

    # The callback again: recorded once, changes nothing.
    delivery, _ = results[0]
    replay = await tp.http.post("/v1/webhooks/google", content=delivery["body"].encode(), headers=delivery["headers"])
    assert replay.json()["outcome"] == "duplicate"

    revoked = await tp.http.post(f"/v1/consents/{consent['id']}/revoke", headers=office.admin)
    assert revoked.status_code == 200 and revoked.json()["data"]["status"] == "revoked"
    twice = await tp.http.post(f"/v1/consents/{consent['id']}/revoke", headers=office.admin)
    assert twice.status_code == 422
    handle = tp.temporal.get_workflow_handle(f"consent:{consent['id']}")
    assert await handle.result() == "revoked"
    async with tp.state.sessionmaker() as session:
        actions = (await session.execute(select(AuditEntry.action).where(
            AuditEntry.resource_id == consent["id"]).order_by(AuditEntry.occurred_at))).scalars().all()
    assert actions == ["consent.created", "consent.sent", "consent.signed", "consent.revoked"]
    assert await domain_events(tp, consent["id"]) == [("consent.signed", {"status": "signed"}),
                                                      ("consent.revoked", {"status": "revoked"})]


async def test_the_client_revokes_before_signing_and_the_link_closes(tp, office):
    consent = (await create(tp, office)).json()["data"]
    assert (await tp.http.post(f"/v1/consents/{consent['id']}/send", headers=office.admin)).status_code == 200
    mails = [m for m in await tp.mail_to(office.client["email"]) if "sign" in m["subject"].lower()]
    link = await signing_link(tp, office.client["email"], len(mails))
    portal = await client_headers(tp, office.client["email"])
    assert (await tp.http.post(f"/v1/clients/{office.client['id']}/consents", json=SUREPREP,
                               headers=portal)).status_code == 403
    revoked = await tp.http.post(f"/v1/consents/{consent['id']}/revoke", headers=portal)
    assert revoked.status_code == 200 and revoked.json()["data"]["status"] == "revoked"
    assert await tp.temporal.get_workflow_handle(f"consent:{consent['id']}").result() == "revoked"
    async with httpx.AsyncClient() as browser:
        assert (await browser.get(link)).status_code == 410
    got = (await tp.http.get(f"/v1/consents/{consent['id']}", headers=portal)).json()["data"]
    assert got["status"] == "revoked" and got["signature"]["status"] == "canceled"
