"""Domain events from the changes that exist: a document uploaded then processed arrives as two thin events; a
full-payload endpoint gets return details only through the §7216 gate, per client, with every decision in the
disclosure log."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import select

from domain.consent.models import Consent
from domain.disclosure.models import DisclosureLogEntry
from tests.document.conftest import upload, wait_processed
from tests.document.forms import form_pdf
from tests.document.test_document_api import W2_VALUES
from tests.outbound_webhook.conftest import Firm, register, unique
from tests.tax_return.conftest import create_return, office, shared_staff, transition  # noqa: F401


async def test_document_uploaded_and_processed_arrive_thin(tp, receiver, office):
    firm = Firm(office.firm_id, office.users["admin"].id, office.headers["admin"])
    path = "/ok/" + unique("documents")
    endpoint = await register(tp, firm, receiver.url + path, events=["document.uploaded", "document.processed"])
    receiver.receiver.trust(path, endpoint["secret"])
    response = await upload(tp, office.headers["preparer"], form_pdf("W-2", "Acme Corporation", W2_VALUES),
                            client_id=office.client["id"], tax_year=2024)
    assert response.status_code == 201, response.text
    document_id = response.json()["data"]["id"]
    await wait_processed(tp, office.headers["preparer"], document_id)
    got = await receiver.receiver.wait_for(path, 2)
    assert all(r.verified for r in got)
    events = {r.event["type"]: r.event["data"] for r in got}
    assert events["document.uploaded"]["status"] == "uploaded"
    assert events["document.processed"]["status"] == "processed"
    for data in events.values():
        assert data["entity_id"] == document_id and data["links"]["self"].endswith(f"/v1/documents/{document_id}")
        assert "75000" not in str(data) and "Acme" not in str(data)  # no contents, no issuer, no amounts


async def test_full_payload_only_where_the_gate_allows(tp, receiver, office):
    firm = Firm(office.firm_id, office.users["admin"].id, office.headers["admin"])
    consenting = office.client
    other = await tp.new_client(office.headers["admin"], assigned_preparer_id=str(office.users["preparer"].id))
    async with tp.state.sessionmaker.begin() as session:
        consent = Consent(id=uuid.uuid4(), firm_id=office.firm_id, client_id=uuid.UUID(consenting["id"]),
                          tax_year=2024, kind="disclosure", consent_scope="return status and amounts",
                          third_party_name="Ledger Partner, Inc.", disclosure_purpose="status updates to Ledger",
                          purpose="webhook_delivery", status="signed", signed_at=datetime.now(timezone.utc))
        session.add(consent)
    path = "/ok/" + unique("full")
    endpoint = await register(tp, firm, receiver.url + path, events=["return.status_changed"], payload="full",
                              consent_id=str(consent.id))
    receiver.receiver.trust(path, endpoint["secret"])
    allowed = await create_return(tp, office.headers["preparer"], consenting["id"], tax_year=2024)
    refused = await create_return(tp, office.headers["preparer"], other["id"], tax_year=2024)
    await transition(tp, office.headers["preparer"], allowed["id"], "request_documents")
    await transition(tp, office.headers["preparer"], refused["id"], "request_documents")

    got = {r.event["data"]["entity_id"]: r.event["data"] for r in await receiver.receiver.wait_for(path, 2)}
    assert got[allowed["id"]]["details"]["tax_year"] == 2024
    assert got[allowed["id"]]["details"]["status"] == "documents_pending"
    assert "details" not in got[refused["id"]] and got[refused["id"]]["details_withheld"] == "no_consent"
    async with tp.state.sessionmaker() as session:
        log = {row.entity_id: row for row in (await session.execute(select(DisclosureLogEntry).where(
            DisclosureLogEntry.purpose == "webhook_delivery",
            DisclosureLogEntry.entity_id.in_([uuid.UUID(allowed["id"]), uuid.UUID(refused["id"])])))).scalars()}
    assert log[uuid.UUID(allowed["id"])].allowed and log[uuid.UUID(allowed["id"])].consent_id == consent.id
    assert log[uuid.UUID(allowed["id"])].recipient == "Ledger Partner, Inc."
    assert not log[uuid.UUID(refused["id"])].allowed and log[uuid.UUID(refused["id"])].refusal_reason == "no_consent"
