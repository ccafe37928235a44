"""POST /v1/webhooks/google: verified before anything is read, recorded once, and never a signed status without
the evidence for the bytes that were sent."""

from __future__ import annotations

import json
import time
import uuid

from sqlalchemy import func, select

from domain.webhook.models import InboundWebhook
from integrations.webhook_hmac import hmac_header

SUREPREP = {"tax_year": 2024, "consent_scope": "SurePrep document processing", "third_party_name": "SurePrep LLC",
            "disclosure_purpose": "Document OCR and data extraction"}


def event(event_type: str, data: dict) -> bytes:
    return json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": event_type, "created": int(time.time()),
                       "data": data}).encode()


async def post(tp, body: bytes, secret: str | None = None):
    secret = secret or tp.settings.google_webhook_secret
    return await tp.http.post("/v1/webhooks/google", content=body,
                              headers={"X-Google-Signature": hmac_header(secret, body),
                                       "Content-Type": "application/json"})


async def recorded(tp) -> int:
    async with tp.state.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(InboundWebhook)
                                    .where(InboundWebhook.source == "google"))


async def test_forged_unknown_and_calendar(tp):
    before = await recorded(tp)
    forged = await post(tp, event("signature.completed", {"signature_request_id": "sig_x"}), secret="not-ours")
    assert forged.status_code == 401
    unsigned = await tp.http.post("/v1/webhooks/google", content=b"{}")
    assert unsigned.status_code == 401
    assert await recorded(tp) == before  # a forger fills no ledger

    unknown = await post(tp, event("signature.completed", {"signature_request_id": "sig_unknown"}))
    assert unknown.json() == {"received": True, "outcome": "rejected", "reason": "unknown signature request"}
    calendar = await post(tp, event("calendar.event.updated", {"calendar_id": "c1", "event_id": "e1"}))
    assert calendar.json()["outcome"] == "acknowledged"
    replay = calendar.request.content
    again = await tp.http.post("/v1/webhooks/google", content=replay,
                               headers={"X-Google-Signature": calendar.request.headers["x-google-signature"]})
    assert again.json()["outcome"] == "duplicate"


async def test_no_signed_status_without_evidence_for_the_sent_bytes(tp, office):
    created = await tp.http.post(f"/v1/clients/{office.client['id']}/consents", json=SUREPREP, headers=office.admin)
    consent_id = created.json()["data"]["id"]
    assert (await tp.http.post(f"/v1/consents/{consent_id}/send", headers=office.admin)).status_code == 200
    consent = (await tp.http.get(f"/v1/consents/{consent_id}", headers=office.admin)).json()["data"]
    provider_id = consent["signature"]["provider_request_id"]
    evidence = {"signer": {"name": "Dana Q. Taxpayer", "email": office.client["email"]},
                "typed_name": "Dana Q. Taxpayer", "ip_address": "203.0.113.9", "user_agent": "Forged/1.0",
                "document_sha256": "0" * 64, "completed_at": "2026-12-03T09:00:00Z",
                "esign_consent": {"at": "2026-12-03T08:59:00Z"}, "events": [{"event": "signed"}]}
    other_bytes = await post(tp, event("signature.completed", {"signature_request_id": provider_id,
                                                               "evidence": evidence}))
    assert other_bytes.json()["outcome"] == "rejected" and "SHA-256" in other_bytes.json()["reason"]
    no_evidence = await post(tp, event("signature.completed", {"signature_request_id": provider_id}))
    assert no_evidence.json() == {"received": True, "outcome": "rejected",
                                  "reason": "the callback carries no evidence"}
    evidence["document_sha256"] = consent["signature"]["document_sha256"]
    del evidence["esign_consent"]
    no_esign_consent = await post(tp, event("signature.completed", {"signature_request_id": provider_id,
                                                                    "evidence": evidence}))
    assert no_esign_consent.json()["outcome"] == "rejected"
    got = (await tp.http.get(f"/v1/consents/{consent_id}", headers=office.admin)).json()["data"]
    assert got["status"] == "sent" and got["signature"]["status"] == "sent" and got["signature"]["evidence"] is None
