"""The durable timers of documents sent for signature, under the time-skipping test server: an engagement
letter's reminders on days 3, 5 and 7 and its expiry after 30 days; a consent in force for one year from its
signature, then expired; a consent revoked while in force ends at once."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest_asyncio
from temporalio.worker import Worker

from activities.collect import activity_methods
from activities.esign import ESignActivities
from domain.context import ServiceContext
from domain.disclosure import gate
from domain.disclosure.basis import DisclosurePurpose
from orchestration import queues
from orchestration.signing import SigningInput, SignatureEvent
from tests.billing.conftest import time_skipping  # noqa: F401  (the fixture)
from tests.esign.conftest import complete_signing, deliver_signature_events, signing_link
from tests.support import signal_ending
from workflows.consent import ConsentWorkflow
from workflows.engagement import EngagementWorkflow


@pytest_asyncio.fixture(loop_scope="session")
async def env(tp, time_skipping):  # noqa: F811
    providers = tp.worker_deps.providers
    activities = ESignActivities(tp.state.sessionmaker, providers.esignature, providers.storage, providers.sealer)
    async with Worker(time_skipping.client, task_queue=queues.SIGNATURES,
                      workflows=[ConsentWorkflow, EngagementWorkflow], activities=activity_methods(activities)):
        yield time_skipping


def signing_mails(messages: list[dict]) -> list[str]:
    return [m["subject"] for m in messages if "sign" in m["subject"].lower()]


async def start(env, office, workflow, subject_type: str, subject_id: str):
    handle = await env.client.start_workflow(
        workflow.run, SigningInput(subject_type=subject_type, subject_id=uuid.UUID(subject_id),
                                   firm_id=office.firm_id, client_id=uuid.UUID(office.client["id"])),
        id=f"{subject_type}:{subject_id}", task_queue=queues.SIGNATURES)
    return handle, await handle.execute_update(workflow.send)


async def test_engagement_reminders_then_expiry(tp, office, env):
    created = await tp.http.post("/v1/engagements", headers=office.admin, json={
        "client_id": office.client["id"], "tax_year": 2024, "engagement_type": "tax_prep", "services": ["1040"],
        "fee_structure": {"type": "fixed", "base_fee": 300}})
    engagement_id = created.json()["data"]["id"]
    handle, sent = await start(env, office, EngagementWorkflow, "engagement", engagement_id)
    assert sent.status == "pending_signature"
    link = await signing_link(tp, office.client["email"])

    await env.sleep(timedelta(days=4))
    assert len(signing_mails(await tp.mail_to(office.client["email"]))) == 2  # the link, then day 3's reminder
    assert await handle.result() == "expired"
    subjects = signing_mails(await tp.mail_to(office.client["email"]))
    assert len(subjects) == 4 and all(s.startswith("Reminder: ") for s in subjects[1:])  # days 3, 5 and 7 only
    got = (await tp.http.get(f"/v1/engagements/{engagement_id}", headers=office.admin)).json()["data"]
    assert got["status"] == "expired" and got["expired_at"]
    async with httpx.AsyncClient() as browser:
        assert (await browser.get(link)).status_code == 410  # the signing link closed with it


async def signed_consent_in(env, tp, office, **fields):
    created = await tp.http.post(f"/v1/clients/{office.client['id']}/consents", headers=office.admin, json={
        "tax_year": 2024, "consent_scope": "SurePrep document processing", "third_party_name": "SurePrep LLC",
        "disclosure_purpose": "Document OCR and data extraction", **fields})
    consent_id = created.json()["data"]["id"]
    before = len(signing_mails(await tp.mail_to(office.client["email"])))
    handle, sent = await start(env, office, ConsentWorkflow, "consent", consent_id)
    assert sent.status == "sent"
    await complete_signing(await signing_link(tp, office.client["email"], before + 1))
    assert [r.json()["outcome"] for _, r in await deliver_signature_events(tp)] == ["applied"]
    # The webhook told the dev server's workflow of that id (none runs there); this one hears it here.
    await handle.signal(ConsentWorkflow.event, SignatureEvent(kind="signed"))
    return consent_id, handle


async def decide(tp, office) -> gate.Decision:
    async with tp.state.sessionmaker.begin() as session:
        return await gate.authorize(ServiceContext.for_system(session, office.firm_id, "test"), gate.Disclosure(
            client_id=uuid.UUID(office.client["id"]), recipient="SurePrep", purpose=DisclosurePurpose.DOCUMENT_PROCESSING,
            information="document", tax_year=2024))


async def test_consent_in_force_for_one_year_then_expired(tp, office, env):
    consent_id, handle = await signed_consent_in(env, tp, office)
    got = (await tp.http.get(f"/v1/consents/{consent_id}", headers=office.admin)).json()["data"]
    assert got["expires_at"][:4] == str(int(got["signed_at"][:4]) + 1)  # one year: Rev. Proc. 2013-14's default
    assert (await decide(tp, office)).allowed
    await env.sleep(timedelta(days=200))
    assert await handle.query(ConsentWorkflow.status) == "signed"
    assert await handle.result() == "expired"
    got = (await tp.http.get(f"/v1/consents/{consent_id}", headers=office.admin)).json()["data"]
    assert got["status"] == "expired" and got["signature"]["signed_document_id"]
    refused = await decide(tp, office)
    assert not refused.allowed and refused.refusal_reason == "consent_expired"


async def test_revocation_ends_a_consent_in_force_at_once(tp, office, env):
    consent_id, handle = await signed_consent_in(env, tp, office)
    await env.sleep(timedelta(days=30))
    revoked = await tp.http.post(f"/v1/consents/{consent_id}/revoke", headers=office.admin)
    assert revoked.status_code == 200
    refused = await decide(tp, office)  # before the workflow hears of it: the row decides
    assert not refused.allowed and refused.refusal_reason == "consent_revoked"
    await signal_ending(env.client, handle, ConsentWorkflow.event, SignatureEvent(kind="revoked"))
    assert await handle.result() == "revoked"
    # Ended by the revocation, not by its timer: no timer fired and no expiry step ran.
    history = await handle.fetch_history()
    assert not [e for e in history.events if e.HasField("timer_fired_event_attributes")]
    scheduled = [e.activity_task_scheduled_event_attributes.activity_type.name for e in history.events
                 if e.HasField("activity_task_scheduled_event_attributes")]
    assert scheduled == ["esign.send", "esign.state", "esign.store_signed"]
