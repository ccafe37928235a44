"""Every kind of outbox message survives a send that fails after the commit, and counts once in effect.

For each kind, the message is committed with its change while the send cannot reach Temporal (an API whose
Temporal address answers nothing, or the outbox's own send with an unreachable Temporal), then delivered the way
the relay does, and then delivered a second time, as when the relay's delete of a delivered entry is lost. The
effect is there, and only once. Mail: a send that fails is counted on the entry and retried, and the mail
arrives once.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

from domain.audit.models import AuditExport
from domain.consent.models import Consent
from domain.errors import ServiceUnavailable
from domain.tax_return.models import AiAnalysis
from integrations.mail import Mailer
from orchestration import (
    audit_export, consent, document, efile, engagement, estimated_payment, form_8879, identity, ids, invoice, mail,
    outbox, tax_return, webhook,
)
from orchestration.message import OutboxMessage
from orchestration.outbox import HANDLERS, Outbox

from tests.document.forms import form_pdf
from tests.document.test_document_api import W2_VALUES
from tests.support import api_without_temporal, deliver, free_port, outbox_entries
from tests.tax_return.conftest import insert_return, poll, wait_for_status

TESTED: set[str] = set()


async def _unreachable():
    raise ServiceUnavailable("The workflow engine cannot be reached; retry shortly")


async def _committed_but_unsent(tp, message: OutboxMessage) -> uuid.UUID:
    """The change's transaction committed the message; the send after the commit failed, so it stays."""
    async with tp.state.sessionmaker() as session:
        pending = await tp.state.outbox.add(session, message)
        await session.commit()
    await Outbox(_unreachable, tp.state.sessionmaker, tp.state.mailer, tp.state.cipher).send(pending)
    assert pending.entry_id in {e.id for e in await outbox_entries(tp, message.entity_id)}
    return pending.entry_id


async def _the_only_entry(tp, entity_id, kind: str) -> OutboxMessage:
    [entry] = await outbox_entries(tp, entity_id)
    assert entry.kind == kind
    return outbox.open_entry(tp.state.cipher, entry), entry.id


async def _delivered_twice(tp, entry_id: uuid.UUID, message: OutboxMessage) -> None:
    """The relay delivers the entry; then the same message once more (its delete was lost)."""
    TESTED.add(message.kind)
    assert await deliver(tp, entry_id)
    assert await deliver(tp, await _committed_but_unsent(tp, message))
    assert await outbox_entries(tp, message.entity_id) == []


async def _runs(tp, workflow_id: str) -> int:
    return len([w async for w in tp.temporal.list_workflows(f"WorkflowId = '{workflow_id}'")])


async def test_tax_return_kinds(tp, office):
    h = office.headers
    async with api_without_temporal(tp) as cut_off:
        response = await cut_off.post("/v1/returns", headers=h["preparer"], json={
            "client_id": office.client["id"], "tax_year": 2017, "return_type": "1040"})
        assert response.status_code == 201, response.text
        return_id = uuid.UUID(response.json()["data"]["id"])
        message, entry_id = await _the_only_entry(tp, return_id, tax_return.START)
        await _delivered_twice(tp, entry_id, message)
        handle = tp.temporal.get_workflow_handle(ids.tax_return(return_id))
        assert (await handle.describe()).status.name == "RUNNING"
        assert await _runs(tp, ids.tax_return(return_id)) == 1

        response = await cut_off.patch(f"/v1/returns/{return_id}", headers=h["ea_cpa"],
                                       json={"assigned_reviewer_id": str(office.users["reviewer"].id)})
        assert response.status_code == 200, response.text
        message, entry_id = await _the_only_entry(tp, return_id, tax_return.CHANGED)
        await _delivered_twice(tp, entry_id, message)
        assert (await handle.query("state"))["assigned_reviewer_id"] == str(office.users["reviewer"].id)

        response = await cut_off.post(f"/v1/returns/{return_id}/ai/analyze", headers=h["preparer"], json={})
        assert response.status_code == 202, response.text
        analysis_id = uuid.UUID(response.json()["data"]["analysis_id"])
        message, entry_id = await _the_only_entry(tp, return_id, tax_return.ANALYZE)
        await _delivered_twice(tp, entry_id, message)

    async def analysed():
        async with tp.state.sessionmaker() as session:
            return (await session.get(AiAnalysis, analysis_id)).status == "completed"
    await poll(analysed)

    message = tax_return.system_event(return_id, tax_return.TaxReturnSystemEvent(action="documents_received",
                                                                                  source="document"))
    await _delivered_twice(tp, await _committed_but_unsent(tp, message), message)
    await wait_for_status(tp, h["preparer"], str(return_id), "documents_pending")
    history = (await tp.http.get(f"/v1/returns/{return_id}/workflow/state", headers=h["preparer"])).json()
    assert [e["action"] for e in history["data"]["history"]].count("documents_received") == 1


async def test_estimated_payment_schedule_and_document_kinds(tp, office):
    h = office.headers
    tax_return_row = await insert_return(tp, office, "in_prep", datetime.now(timezone.utc),
                                         date.today() + timedelta(days=120))
    async with api_without_temporal(tp) as cut_off:
        response = await cut_off.post(f"/v1/returns/{tax_return_row.id}/estimated-payments", headers=h["admin"],
                                      json={"tax_year": date.today().year + 1, "federal_annual": "4000.00"})
        assert response.status_code == 201, response.text
        schedule_id = response.json()["data"]["id"]
        message, entry_id = await _the_only_entry(tp, schedule_id, estimated_payment.CHANGED)
        await _delivered_twice(tp, entry_id, message)
        workflow_id = ids.estimated_payment_schedule(uuid.UUID(schedule_id))
        assert (await tp.temporal.get_workflow_handle(workflow_id).describe()).status.name == "RUNNING"
        assert await _runs(tp, workflow_id) == 1

        response = await cut_off.post("/v1/documents", headers=h["preparer"], data={
            "client_id": office.client["id"], "tax_year": "2024"},
            files={"file": ("W2_Acme_2024.pdf", form_pdf("W-2", "Acme Corporation", W2_VALUES),
                            "application/octet-stream")})
        assert response.status_code == 201, response.text
        document_id = response.json()["data"]["id"]
    message, entry_id = await _the_only_entry(tp, document_id, document.PROCESS)
    TESTED.add(message.kind)
    assert await deliver(tp, entry_id)

    async def processed():
        data = (await tp.http.get(f"/v1/documents/{document_id}", headers=h["preparer"])).json()["data"]
        return data["status"] in ("processed", "review_required")
    await poll(processed, 30)
    # Delivered again once processing is over: the document no longer waits for it, nothing runs again.
    assert await deliver(tp, await _committed_but_unsent(tp, message))
    assert await _runs(tp, ids.document(uuid.UUID(document_id))) == 1


async def test_audit_export_smartvault_import_and_invoice_kinds(tp, office):
    async with api_without_temporal(tp) as cut_off:
        now = datetime.now(timezone.utc)
        response = await cut_off.post("/v1/admin/audit/export", headers=office.headers["admin"], json={
            "start_date": (now - timedelta(days=1)).isoformat(), "end_date": now.isoformat(), "format": "json"})
        assert response.status_code == 202, response.text
        export_id = response.json()["data"]["export_id"]
    message, entry_id = await _the_only_entry(tp, export_id, audit_export.START)
    await _delivered_twice(tp, entry_id, message)

    async def exported():
        async with tp.state.sessionmaker() as session:
            return (await session.get(AuditExport, uuid.UUID(export_id))).status == "completed"
    await poll(exported)
    assert await _runs(tp, ids.audit_export(uuid.UUID(export_id))) == 1

    job = document.SmartVaultImportInput(firm_id=office.firm_id, account_id="acct-outbox",
                                         document_id=f"sv-{uuid.uuid4()}", name="W2.pdf")
    message = document.smartvault_import_requested(job)
    await _delivered_twice(tp, await _committed_but_unsent(tp, message), message)
    assert await _runs(tp, ids.smartvault_import(job.account_id, job.document_id)) == 1

    # An invoice event for an invoice whose workflow does not run (a draft): delivered, and nothing to tell.
    message = invoice.event(uuid.uuid4(), "payment_recorded", event_id="evt_outbox")
    await _delivered_twice(tp, await _committed_but_unsent(tp, message), message)


async def test_consent_and_engagement_kinds(tp, office):
    """A consent revoked while Temporal cannot be reached: the revocation is committed (the gate refuses from
    then on), its workflow hears of it from the relay, twice, and ends once."""
    admin = office.headers["admin"]
    created = await tp.http.post(f"/v1/clients/{office.client['id']}/consents", headers=admin, json={
        "tax_year": 2024, "consent_scope": "SurePrep document processing", "third_party_name": "SurePrep LLC",
        "disclosure_purpose": "Document OCR and data extraction"})
    consent_id = created.json()["data"]["id"]
    assert (await tp.http.post(f"/v1/consents/{consent_id}/send", headers=admin)).status_code == 200
    async with api_without_temporal(tp) as cut_off:
        revoked = await cut_off.post(f"/v1/consents/{consent_id}/revoke", headers=admin)
        assert revoked.status_code == 200, revoked.text
    message, entry_id = await _the_only_entry(tp, consent_id, consent.EVENT)
    await _delivered_twice(tp, entry_id, message)
    assert await tp.temporal.get_workflow_handle(ids.consent(uuid.UUID(consent_id))).result() == "revoked"

    # Engagement and Form 8879 events for a subject whose workflow does not run: delivered, nothing to tell.
    for message in (engagement.event(uuid.uuid4(), "signed"), form_8879.event(uuid.uuid4(), "signed")):
        await _delivered_twice(tp, await _committed_but_unsent(tp, message), message)


async def test_portal_kinds(tp, office):
    """The schedule follows the connection's row, once however often told; a manual sync's workflow runs once."""
    from domain.portal.models import PortalConnection, PortalSync
    from orchestration import portal

    client_id = uuid.UUID(office.client["id"])
    async with tp.state.sessionmaker.begin() as session:
        consent = Consent(firm_id=office.firm_id, client_id=client_id, tax_year=2025, kind="disclosure",
                          consent_scope="portal", third_party_name="TaxDome", disclosure_purpose="portal import",
                          purpose="portal_import", status="signed", signed_at=datetime.now(timezone.utc))
        session.add(consent)
        await session.flush()
        connection = PortalConnection(
            id=uuid.uuid4(), firm_id=office.firm_id, client_id=client_id, consent_id=consent.id,
            base_url=f"http://127.0.0.1:{free_port()}", recipient="TaxDome", device_id="outbox-test",
            email_encrypted=b"", password_encrypted=b"", surfaces=["tasks"], schedule="0 3 * * *", status="active")
        session.add(connection)
    message = portal.changed(connection.id)
    await _delivered_twice(tp, await _committed_but_unsent(tp, message), message)
    schedule = await tp.temporal.get_schedule_handle(portal.schedule_id(connection.id)).describe()
    assert not schedule.schedule.state.paused

    # Paused meanwhile: the manual sync's workflow starts once, finds the connection paused and records that.
    async with tp.state.sessionmaker.begin() as session:
        (await session.get(PortalConnection, connection.id)).status = "paused"
        sync = PortalSync(id=uuid.uuid4(), firm_id=office.firm_id, connection_id=connection.id, trigger="manual",
                          status="running", results=[], requests_made=0)
        session.add(sync)
    message = portal.sync_requested(connection.id, sync.id)
    await _delivered_twice(tp, await _committed_but_unsent(tp, message), message)

    async def closed():
        async with tp.state.sessionmaker() as session:
            return (await session.get(PortalSync, sync.id)).status == "cancelled"
    await poll(closed)
    assert await _runs(tp, portal.workflow_id(connection.id, sync.id)) == 1
    await tp.temporal.get_schedule_handle(portal.schedule_id(connection.id)).delete()


async def test_a_mail_whose_send_fails_is_retried_and_arrives_once(tp, office):
    address = f"outbox-{uuid.uuid4().hex[:8]}@client.example.com"
    message = mail.mail(address, "Outbox test", "Sent once.\n", about="test")
    dead_smtp = Mailer("127.0.0.1", free_port(), tp.settings.mail_from, timeout_s=2)
    async with tp.state.sessionmaker() as session:
        pending = await tp.state.outbox.add(session, message)
        await session.commit()
    await Outbox(tp.state.temporal, tp.state.sessionmaker, dead_smtp, tp.state.cipher).send(pending)  # SMTP down: it stays
    assert not await outbox.deliver(tp.temporal, tp.state.sessionmaker, dead_smtp, tp.state.cipher, pending.entry_id)
    [entry] = await outbox_entries(tp, "test")
    assert entry.attempts == 1 and entry.last_error.startswith("ConnectionRefusedError")
    TESTED.add(message.kind)
    assert await deliver(tp, pending.entry_id)
    assert await outbox_entries(tp, "test") == []
    assert len(await tp.mail_to(address)) == 1


async def test_efile_kinds(tp, office, transmitter):
    from tests.efile.conftest import Firm, ready_return

    firm = Firm(office.firm_id, office.users, office.headers)
    _, rid = await ready_return(tp, firm, "Outboxed")
    async with api_without_temporal(tp) as cut_off:
        response = await cut_off.post(f"/v1/returns/{rid}/efiling/transmit", headers=office.headers["admin"],
                                      json={"jurisdictions": ["federal"]})
        assert response.status_code == 202, response.text
        transmission_id = uuid.UUID(response.json()["data"]["transmissions"][0]["id"])
    message, entry_id = await _the_only_entry(tp, transmission_id, efile.START)
    await _delivered_twice(tp, entry_id, message)
    await wait_for_status(tp, office.headers["admin"], rid, "complete", timeout_s=30)
    assert await _runs(tp, ids.efile_transmission(transmission_id)) == 1
    # The webhook's wake-up and a resubmission's notice, for a workflow that has ended: delivered, nothing to tell.
    for message in (efile.acknowledged(transmission_id, "0" * 20), efile.resolved(transmission_id)):
        await _delivered_twice(tp, await _committed_but_unsent(tp, message), message)


async def test_identity_kinds(tp, office):
    client = await tp.new_client(office.headers["admin"])
    async with api_without_temporal(tp) as cut_off:
        response = await cut_off.post(f"/v1/clients/{client['id']}/identity/verify", headers=office.headers["admin"],
                                      json={"tier": 1, "methods": ["email"]})
        assert response.status_code == 201, response.text
    vid = uuid.UUID(response.json()["data"]["verification_id"])
    entries = await outbox_entries(tp, vid)
    assert [e.kind for e in entries] == [identity.START, identity.SEND_CODE]
    messages = [outbox.open_entry(tp.state.cipher, e) for e in entries]
    for entry in entries:
        assert await deliver(tp, entry.id)
    for message in messages:  # each once more (its delete was lost)
        TESTED.add(message.kind)
        assert await deliver(tp, await _committed_but_unsent(tp, message))
    assert await outbox_entries(tp, vid) == []
    # The code went once, however often its message came.
    mails = await poll(lambda: tp.mail_to(client["email"]))
    assert len(mails) == 1 and await _runs(tp, ids.identity_verification(vid)) == 1
    code = mails[0]["text"].split("code is ")[1][:6]
    verified = await tp.http.post(f"/v1/identity/{vid}/email/verify", headers=office.headers["admin"],
                                  json={"code": code})
    assert verified.status_code == 200, verified.text
    message = identity.finished(vid)
    await _delivered_twice(tp, await _committed_but_unsent(tp, message), message)
    assert len(await tp.mail_to(client["email"])) == 1


async def test_webhook_delivery_kind(tp, office):
    """A webhook delivery written while Temporal is out of reach (here a test event's) starts its workflow from the
    relay, once however often the entry is delivered."""
    created = await tp.http.post("/v1/admin/webhooks", headers=office.headers["admin"], json={
        "url": f"http://127.0.0.1:{free_port()}/nobody-listens", "events": ["invoice.paid"]})
    assert created.status_code == 201, created.text
    endpoint_id = created.json()["data"]["id"]
    async with api_without_temporal(tp) as cut_off:
        response = await cut_off.post(f"/v1/admin/webhooks/{endpoint_id}/test", headers=office.headers["admin"])
        assert response.status_code == 202, response.text
        delivery_id = response.json()["data"]["id"]
    message, entry_id = await _the_only_entry(tp, delivery_id, webhook.DELIVER)
    await _delivered_twice(tp, entry_id, message)
    assert await _runs(tp, ids.webhook_delivery(uuid.UUID(delivery_id))) == 1
    # Nobody listens there: stop its retries.
    await tp.http.patch(f"/v1/admin/webhooks/{endpoint_id}", headers=office.headers["admin"], json={"enabled": False})


def test_every_kind_is_tested():
    """Runs last in this module: a kind added without a test of its own fails here."""
    assert TESTED == set(HANDLERS), set(HANDLERS) - TESTED
