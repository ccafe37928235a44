"""SurePrep (with the §7216 consent check) and SmartVault, through their sandboxes and signed webhooks."""

import asyncio
import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import func, select

from api.app import create_app
from api.state import build_state
from domain.audit.models import AuditEntry
from domain.consent.models import Consent
from domain.document.models import IntegrationAccount, SurePrepBinder
from domain.webhook.ledger import find
from domain.outbox.models import OutboxEntry
from domain.disclosure.models import DisclosureLogEntry
from domain.webhook.models import InboundWebhook
from integrations.webhook_hmac import hmac_header
from tests.document.conftest import deliver_webhooks, upload, workflow_result
from tests.document.forms import form_pdf
from tests.esign.conftest import signed_consent
from orchestration import ids

W2 = {"wages": "75,000.00", "federal_withholding": "12,500.00"}


async def _consent(tp, office, **overrides):
    now = datetime.now(timezone.utc)
    values = dict(firm_id=office.firm_id, client_id=uuid.UUID(office.client["id"]), tax_year=2024,
                  consent_scope="SurePrep document processing", third_party_name="SurePrep LLC",
                  disclosure_purpose="Document OCR and data extraction for tax preparation", status="signed",
                  purpose="document_processing",
                  signed_at=now - timedelta(days=1), expires_at=now + timedelta(days=365))
    values.update(overrides)
    async with tp.state.sessionmaker.begin() as session:
        session.add(Consent(**values))


async def _binders(sandbox_url):
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{sandbox_url}/_sandbox/binders")).json()


async def _processed(tp, office, pdf):
    response = await upload(tp, office.admin, pdf, client_id=office.client["id"], tax_year=2024)
    assert response.status_code == 201, response.text
    document_id = response.json()["data"]["id"]
    return document_id, await workflow_result(tp, document_id)


async def test_no_disclosure_to_sureprep_without_active_consent(tp, office, sandboxes):
    await _consent(tp, office, status="revoked", revoked_at=datetime.now(timezone.utc))
    await _consent(tp, office, expires_at=datetime.now(timezone.utc) - timedelta(days=1))
    await _consent(tp, office, third_party_name="Some Other Vendor")
    document_id, outcome = await _processed(tp, office, form_pdf("W-2", "Acme Corporation", W2))
    assert outcome.sureprep == "refused_no_consent"
    assert not [b for b in await _binders(sandboxes.sureprep) if b["client_reference"] == office.client["id"]]
    async with tp.state.sessionmaker() as session:
        refusals = (await session.execute(select(AuditEntry.details).where(
            AuditEntry.resource_id == document_id, AuditEntry.action == "document.disclosure_refused"))).scalars().all()
        logged = (await session.execute(select(DisclosureLogEntry).where(
            DisclosureLogEntry.entity_id == uuid.UUID(document_id)))).scalars().all()
    # The gate's row, naming the nearest miss (a consent that expired), and the document's own audit row written
    # by the system actor through the document service, naming the workflow step that refused.
    assert [(e.allowed, e.basis, e.refusal_reason, e.recipient, e.purpose) for e in logged] == [
        (False, "none", "consent_expired", "SurePrep", "document_processing")]
    assert refusals == [{"third_party": "SurePrep", "reason": "consent_expired", "disclosure_id": str(logged[0].id),
                         "system_source": "document_processing"}]
    await deliver_webhooks(tp, sandboxes.sureprep, "/v1/webhooks/sureprep")  # nothing was sent: nothing comes


async def test_sureprep_binder_upload_and_extraction_webhook(tp, office, sandboxes):
    # The consent as a firm records it: created, sent, signed by the client on the signing page.
    await signed_consent(tp, office.admin, office.client)
    pdf = form_pdf("W-2", "Acme Corporation", W2, wrapped=frozenset({"federal_withholding"}))
    document_id, outcome = await _processed(tp, office, pdf)
    assert outcome.sureprep == "sent" and outcome.status == "review_required"
    binders = [b for b in await _binders(sandboxes.sureprep) if b["client_reference"] == office.client["id"]]
    assert len(binders) == 1 and [d["external_reference"] for d in binders[0]["documents"]] == [document_id]
    async with tp.state.sessionmaker() as session:
        logged = (await session.execute(select(DisclosureLogEntry.allowed, DisclosureLogEntry.basis).where(
            DisclosureLogEntry.entity_id == uuid.UUID(document_id)))).all()
    assert logged == [(True, "consent")]  # the gate's row of the disclosure that went

    results = await deliver_webhooks(tp, sandboxes.sureprep, "/v1/webhooks/sureprep")
    outcomes = [(d["event"]["type"], r.status_code, r.json()["outcome"]) for d, r in results]
    assert outcomes == [("document.uploaded", 200, "ignored"), ("binder.submitted", 200, "applied"),
                        ("extraction.ready", 200, "applied"), ("binder.processing_complete", 200, "applied")]
    document = (await tp.http.get(f"/v1/documents/{document_id}", headers=office.admin)).json()["data"]
    withholding = next(f for f in document["extraction"]["fields"] if f["field_name"] == "federal_withholding")
    assert withholding["source"] == "sureprep" and withholding["value"] == "12500.00"
    assert not withholding["needs_review"] and document["status"] == "processed"

    # Replayed: recorded once, changes nothing.
    delivery, _ = results[2]
    replay = await tp.http.post("/v1/webhooks/sureprep", content=delivery["body"].encode(),
                                headers=delivery["headers"])
    assert replay.status_code == 200 and replay.json()["outcome"] == "duplicate"
    # Tampered: refused before anything is recorded.
    forged = delivery["body"].replace("12500.00", "1.00").encode()
    bad = await tp.http.post("/v1/webhooks/sureprep", content=forged, headers=delivery["headers"])
    assert bad.status_code == 401
    # Out of order: a binder event older than the last one applied is recorded as stale.
    secret = tp.settings.sureprep_webhook_secret
    old = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": "binder.submitted",
                      "created": int(datetime.now(timezone.utc).timestamp()) - 3600,
                      "data": {"binder_id": binders[0]["binder_id"]}}).encode()
    stale = await tp.http.post("/v1/webhooks/sureprep", content=old,
                               headers={"X-SurePrep-Signature": hmac_header(secret, old),
                                        "Content-Type": "application/json"})
    assert stale.json()["outcome"] == "stale"
    unknown = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": "extraction.ready", "created": 1,
                          "data": {"binder_id": "bnd_nope", "external_reference": document_id, "fields": []}}).encode()
    rejected = await tp.http.post("/v1/webhooks/sureprep", content=unknown,
                                  headers={"X-SurePrep-Signature": hmac_header(secret, unknown)})
    assert rejected.json() == {"received": True, "outcome": "rejected", "reason": "unknown binder"}
    async with tp.state.sessionmaker() as session:
        recorded = (await session.execute(select(InboundWebhook.outcome).where(
            InboundWebhook.source == "sureprep", InboundWebhook.event_id == delivery["event"]["id"]))).scalars().all()
    assert recorded == ["applied"]


async def _smartvault_account(tp, firm_id) -> str:
    """A SmartVault account of the firm's, as the integration setup records it: its webhooks then apply."""
    account = f"acct-{uuid.uuid4().hex[:8]}"
    async with tp.state.sessionmaker.begin() as session:
        session.add(IntegrationAccount(firm_id=firm_id, provider="smartvault", account_id=account))
    return account


async def test_smartvault_upload_lands_in_the_pending_queue(tp, office, sandboxes):
    account = await _smartvault_account(tp, office.firm_id)
    pdf = form_pdf("1099-INT", "First National Bank", {"interest_income": "10.00"})
    async with httpx.AsyncClient() as http:
        put = await http.post(f"{sandboxes.smartvault}/v1/accounts/{account}/documents",
                              data={"folder": "Client Uploads"}, files={"file": ("1099INT.pdf", pdf)})
        bad = await http.post(f"{sandboxes.smartvault}/v1/accounts/{account}/documents",
                              data={"folder": "Client Uploads"}, files={"file": ("setup.pdf", b"MZ\x90\x00rest")})
        stranger = await http.post(f"{sandboxes.smartvault}/v1/accounts/acct-unknown/documents",
                                   files={"file": ("x.pdf", pdf)})
    assert put.status_code == bad.status_code == stranger.status_code == 201
    results = await deliver_webhooks(tp, sandboxes.smartvault, "/v1/webhooks/smartvault")
    assert [r.json()["outcome"] for _, r in results] == ["applied", "applied", "rejected"]

    good = await tp.temporal.get_workflow_handle(
        ids.smartvault_import(account, put.json()["document_id"])).result()
    refused = await tp.temporal.get_workflow_handle(
        ids.smartvault_import(account, bad.json()["document_id"])).result()
    assert good["outcome"] == "imported" and refused == {"outcome": "refused", "pending_document_id": None,
                                                          "reason": "executable"}
    batches = (await tp.http.get("/v1/pending-documents/batches", headers=office.admin)).json()["data"]
    batch = next(b for b in batches if b["batch_id"] == "smartvault-Client-Uploads")
    assert [(d["original_filename"], d["document_type"]) for d in batch["documents"]] == [("1099INT.pdf", "1099-INT")]

    delivery, _ = results[0]
    replay = await tp.http.post("/v1/webhooks/smartvault", content=delivery["body"].encode(),
                                headers=delivery["headers"])
    assert replay.json()["outcome"] == "duplicate"
    unsigned = await tp.http.post("/v1/webhooks/smartvault", content=delivery["body"].encode())
    assert unsigned.status_code == 401


async def _ledger_rows(tp, source: str, event_id: str) -> int:
    async with tp.state.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(InboundWebhook).where(
            InboundWebhook.source == source, InboundWebhook.event_id == event_id))


async def test_a_sureprep_event_delivered_twice_at_once_is_recorded_once(tp, office, sandboxes):
    # The binder as the upload activity records it (which documents it holds does not matter here).
    binder_id = f"bnd_{uuid.uuid4().hex}"
    async with tp.state.sessionmaker.begin() as session:
        session.add(SurePrepBinder(firm_id=office.firm_id, client_id=uuid.UUID(office.client["id"]), tax_year=2024,
                                   external_binder_id=binder_id))
    # SurePrep's events may name the taxpayer; the ledger keeps the event without the identifier.
    body = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": "binder.submitted",
                       "created": int(datetime.now(timezone.utc).timestamp()),
                       "data": {"binder_id": binder_id, "taxpayer": {"name": "Pat Doe", "ssn": "123-45-6789"}}})
    headers = {"X-SurePrep-Signature": hmac_header(tp.settings.sureprep_webhook_secret, body.encode()),
               "Content-Type": "application/json"}
    responses = await asyncio.gather(*(tp.http.post("/v1/webhooks/sureprep", content=body.encode(), headers=headers)
                                       for _ in range(2)))
    assert sorted(r.json()["outcome"] for r in responses) == ["applied", "duplicate"]
    assert await _ledger_rows(tp, "sureprep", json.loads(body)["id"]) == 1
    async with tp.state.sessionmaker() as session:
        row = await find(session, "sureprep", json.loads(body)["id"])
        assert (row.outcome, row.signature, row.firm_id) == ("applied", "hmac_sha256", office.firm_id)
        assert row.payload["data"]["taxpayer"] == {"name": "Pat Doe", "ssn": "[redacted]"}
        binder = (await session.execute(select(SurePrepBinder).where(
            SurePrepBinder.external_binder_id == binder_id))).scalar_one()
    assert binder.status == "submitted"


async def test_a_smartvault_upload_delivered_twice_at_once_is_imported_once(tp, office, sandboxes):
    account = await _smartvault_account(tp, office.firm_id)
    pdf = form_pdf("1099-INT", "Second National Bank", {"interest_income": "20.00"})
    async with httpx.AsyncClient() as http:
        put = await http.post(f"{sandboxes.smartvault}/v1/accounts/{account}/documents",
                              data={"folder": "Twice"}, files={"file": ("1099INT-twice.pdf", pdf)})
        deliveries = (await http.get(f"{sandboxes.smartvault}/_sandbox/outbox")).json()
    delivery = next(d for d in deliveries if d["event"]["data"].get("account_id") == account)
    responses = await asyncio.gather(*(tp.http.post("/v1/webhooks/smartvault", content=delivery["body"].encode(),
                                                    headers=delivery["headers"]) for _ in range(2)))
    assert sorted(r.json()["outcome"] for r in responses) == ["applied", "duplicate"]
    assert await _ledger_rows(tp, "smartvault", delivery["event"]["id"]) == 1
    imported = await tp.temporal.get_workflow_handle(
        ids.smartvault_import(account, put.json()["document_id"])).result()
    assert imported["outcome"] == "imported"
    batches = (await tp.http.get("/v1/pending-documents/batches", headers=office.admin)).json()["data"]
    batch = next(b for b in batches if b["batch_id"] == "smartvault-Twice")
    assert [d["original_filename"] for d in batch["documents"]] == ["1099INT-twice.pdf"]


PROVIDERS = ("sureprep", "smartvault")


def _body(**fields) -> bytes:
    return json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": "binder.submitted", "created": 1, "data": {},
                       **fields}).encode()


async def _post_webhook(tp, provider: str, body: bytes, signature: bytes | None = None) -> httpx.Response:
    secret = getattr(tp.settings, f"{provider}_webhook_secret")
    return await tp.http.post(f"/v1/webhooks/{provider}", content=body, headers={
        "Content-Type": "application/json", f"X-{provider}-Signature": signature or hmac_header(secret, body)})


async def _recorded(tp) -> int:
    async with tp.state.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(InboundWebhook))


def _refusal(response: httpx.Response, status: int) -> list[tuple[str, str]]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [(e["field"], e["code"]) for e in response.json().get("errors", [])]


@pytest.mark.parametrize("provider", PROVIDERS)
# b"\xb2" reaches the app as "²" (headers are Latin-1), which str.isdigit() accepts and int() refuses.
@pytest.mark.parametrize("header", [b"t=" + b"9" * 5000 + b",v1=aa", b"t=\xb2,v1=aa"],
                         ids=["5000_digits", "superscript"])
async def test_an_unreadable_signature_timestamp_is_an_invalid_signature(tp, provider, header, sandboxes):
    """No secret is needed to send this: it is refused like any signature that does not verify."""
    before = await _recorded(tp)
    assert _refusal(await _post_webhook(tp, provider, _body(), signature=header), 401) == []
    assert await _recorded(tp) == before


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("body, error", [
    (_body(id="evt_\u0000"), ("body", "invalid_format")),
    (_body(id="evt_\ud800"), ("body", "invalid_format")),
    (_body(data={"x": "\ud800"}), ("body", "invalid_format")),
    (_body(data={"\udfff": 1}), ("body", "invalid_format")),
    (b"[" * 100_000 + b"]" * 100_000, ("body", "too_deep")),  # past Python's recursion limit
    (b"[" * 65 + b"]" * 65, ("body", "too_deep")),
    (_body(created=1).replace(b'"created": 1', b'"created": 1' + b"0" * 5000), ("body", "out_of_range")),
    (_body(created=1).replace(b'"created": 1', b'"created": 1e400'), ("body", "out_of_range")),
    (_body(created=float("nan")), ("body", "malformed_json")),
    (_body(created=10**20), ("created", "out_of_range")),
    (_body(created=2**63), ("created", "out_of_range")),
    (_body(created=-10**15), ("created", "out_of_range")),
], ids=["nul", "surrogate_id", "surrogate_data", "surrogate_key", "nested_100000", "nested_65", "int_5000_digits",
        "float_1e400", "nan", "created_1e20", "created_2e63", "created_negative"])
async def test_a_signed_body_we_cannot_read_or_store_is_a_400_and_records_nothing(tp, provider, body, error,
                                                                                   sandboxes):
    before = await _recorded(tp)
    assert _refusal(await _post_webhook(tp, provider, body), 400) == [error]
    assert await _recorded(tp) == before


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_provider_that_is_not_configured_takes_no_webhooks(tp, provider):
    """Its API URL unset, its route answers 404 even to a body signed with its secret (issue 13): a development
    secret left in place opens nothing."""
    unconfigured = tp.settings.model_copy(update={f"{provider}_api_url": None})
    state = build_state(unconfigured)
    body = _body()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(unconfigured, state)),
                                     base_url="http://testserver") as http:
            response = await http.post(f"/v1/webhooks/{provider}", content=body, headers={
                "Content-Type": "application/json",
                f"X-{provider}-Signature": hmac_header(getattr(unconfigured, f"{provider}_webhook_secret"), body)})
    finally:
        await state.engine.dispose()
    _refusal(response, 404)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_the_previous_webhook_secret_is_accepted_only_while_configured(tp, provider):
    """Our side of a secret rotation: with the new secret set and the old one in <PROVIDER>_WEBHOOK_PREVIOUS_SECRET,
    a delivery the provider still signs with the old one verifies; once the previous secret is unset it is a 401."""
    old = getattr(tp.settings, f"{provider}_webhook_secret")
    body = _body()

    async def post(settings) -> httpx.Response:
        state = build_state(settings)
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, state)),
                                         base_url="http://testserver") as http:
                return await http.post(f"/v1/webhooks/{provider}", content=body, headers={
                    "Content-Type": "application/json", f"X-{provider}-Signature": hmac_header(old, body)})
        finally:
            await state.engine.dispose()

    rotating = tp.settings.model_copy(update={f"{provider}_api_url": "http://127.0.0.1:9",  # configured
                                              f"{provider}_webhook_secret": "rotated-" + uuid.uuid4().hex,
                                              f"{provider}_webhook_previous_secret": old})
    verified = await post(rotating)
    assert verified.status_code in (200, 400), verified.text  # past the signature: the event's own outcome
    rotated = rotating.model_copy(update={f"{provider}_webhook_previous_secret": None})
    _refusal(await post(rotated), 401)


@pytest.mark.parametrize("document_id", ["../../admin/keys", "abc?delete=1", "a/b", "x" * 101])
async def test_a_smartvault_document_id_that_is_no_id_never_reaches_a_url(tp, office, sandboxes, document_id):
    """The id goes into the path of a request signed with our API key: refused with its reason, nothing imported."""
    account = await _smartvault_account(tp, office.firm_id)
    body = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": "document.uploaded", "created": int(time.time()),
                       "data": {"account_id": account, "document_id": document_id, "name": "W2.pdf"}}).encode()
    response = await _post_webhook(tp, "smartvault", body)
    assert response.status_code == 200, response.text
    assert (response.json()["outcome"], response.json()["reason"]) == (
        "rejected", "document_id is not a SmartVault document id")
    async with tp.state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEntry).where(
            OutboxEntry.entity_id.like(f"{account}:%"))) == 0
