"""The role matrix, generated from the OpenAPI document (issue 13's last open item, docs/security.md): every
operation of /v1/openapi.json, called by every role (admin, ea_cpa, reviewer, preparer, a portal client, and no
token at all), on its own firm's objects and on another firm's.

- No token: 401 for every operation that takes one.
- Another firm's object: 403 or 404, never a success, whatever the role.
- Its own firm's objects: a role the spec's permissions (the "Permissions:" lines of the spec, as PERMITTED below
  writes them) admit is not refused for its role (no 401 or 403; a 404, 409 or 422 of the object's state may
  follow); any other role is refused (403, or 404 where the object is not even visible to it).

An operation the document has and PERMITTED does not name fails the test: a new endpoint states who may call it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import pytest
from fpdf import FPDF

from tests.api.efile_seed import rejected_transmission
from tests.tax_return.conftest import portal_headers

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROLES = ("admin", "ea_cpa", "reviewer", "preparer", "client")
STAFF = frozenset({"admin", "ea_cpa", "reviewer", "preparer"})
EVERYONE = STAFF | {"client"}
BILLING = frozenset({"admin", "ea_cpa"})
SENIOR = frozenset({"admin", "ea_cpa", "reviewer"})
ADMIN = frozenset({"admin"})
# Operations whose ids cannot all be seeded (an extraction field, a batch, an audit export): only the rules that
# hold whatever the id (no token: 401; another firm: never a success) are checked, and their role: None.
UNSEEDED = None

PERMITTED: dict[str, frozenset[str] | None] = {
    # §4 clients
    "list_clients": STAFF, "create_client": STAFF, "get_client": EVERYONE, "update_client": STAFF,
    "delete_client": ADMIN, "list_contacts": EVERYONE, "add_contact": STAFF, "update_contact": STAFF,
    "delete_contact": STAFF,
    # §5 returns (the transition sent is request_documents: the preparer or an EA/CPA, docs/tax_return.md)
    "list_returns": EVERYONE, "list_client_returns": EVERYONE, "create_return": STAFF, "get_return": EVERYONE,
    "update_return": STAFF, "delete_return": BILLING, "transition_return": frozenset({"preparer", "ea_cpa"}),
    "get_workflow_state": EVERYONE, "analyze_return": STAFF, "get_analysis": STAFF,
    # §6 documents
    "upload_document": EVERYONE, "list_documents": EVERYONE, "get_document": EVERYONE,
    "download_document": EVERYONE, "update_document": STAFF, "delete_document": BILLING,
    "update_extracted_field": STAFF, "delete_extraction": BILLING, "rerun_extraction": STAFF,
    "get_document_checklist": EVERYONE, "upload_pending_document": STAFF, "list_pending_batches": STAFF,
    "create_client_from_batch": UNSEEDED,
    # §7 questions, §8 messages
    "list_questions": EVERYONE, "get_question": EVERYONE, "create_question": STAFF,
    "answer_question": frozenset({"client"}), "skip_question": STAFF,
    "list_messages": EVERYONE, "send_message": EVERYONE, "mark_message_read": EVERYONE,
    # §9 invoices
    "list_invoices": EVERYONE, "get_invoice": EVERYONE, "create_invoice": BILLING, "update_invoice": BILLING,
    "send_invoice": BILLING, "void_invoice": BILLING, "record_payment": BILLING, "list_payments": EVERYONE,
    # §11.6 estimated payments
    "list_estimated_payments": EVERYONE, "create_estimated_payment_schedule": BILLING | {"preparer"},
    "get_estimated_payment": EVERYONE, "update_estimated_payment": BILLING | {"preparer"},
    "remind_estimated_payment": STAFF, "confirm_estimated_payment": EVERYONE,
    "cancel_estimated_payment": BILLING,
    # §14 admin
    "list_users": ADMIN, "create_user": ADMIN, "get_user": ADMIN, "update_user": ADMIN, "deactivate_user": ADMIN,
    "get_config": ADMIN, "update_config": ADMIN, "query_audit_log": ADMIN, "export_audit_log": ADMIN,
    "get_audit_export": ADMIN, "download_audit_export": ADMIN, "get_detailed_health": ADMIN,
    "temporal_codec": BILLING, "create_temporal_codec_browser_session": BILLING,
    "list_audit_chain_checks": ADMIN,
    # §2 the session itself
    "logout": EVERYONE,
    # Client-portal connections (docs/portal/api.md; domain/policy.py portal.*): admins and EA/CPAs connect and
    # operate them, staff who may see the client read them; outbound webhooks (§13.3): admin
    "list_portal_connections": STAFF, "get_portal_connection": STAFF, "get_portal_sync": STAFF,
    "list_client_portal_items": STAFF, "create_portal_connection": BILLING, "delete_portal_connection": BILLING,
    "check_portal_connection": BILLING, "pause_portal_connection": BILLING, "resume_portal_connection": BILLING,
    "sync_portal_connection": BILLING,
    "list_webhook_endpoints": ADMIN, "create_webhook_endpoint": ADMIN, "get_webhook_endpoint": ADMIN,
    "update_webhook_endpoint": ADMIN, "delete_webhook_endpoint": ADMIN, "rotate_webhook_endpoint_secret": ADMIN,
    "test_webhook_endpoint": ADMIN, "list_webhook_deliveries": ADMIN, "redeliver_webhook_delivery": ADMIN,
    # §10 e-signature: consents, engagement letters, Form 8879 (docs/consent.md, engagement.md, esign.md), and the
    # §7216 disclosure log (docs/disclosure.md)
    "list_client_consents": EVERYONE, "create_client_consent": SENIOR, "get_consent": EVERYONE,
    "send_consent": SENIOR, "revoke_consent": SENIOR | {"client"},
    "list_engagements": EVERYONE, "create_engagement": SENIOR, "get_engagement": EVERYONE,
    "update_engagement": SENIOR, "delete_engagement": BILLING, "send_engagement": SENIOR,
    "get_engagement_document": EVERYONE, "get_form_8879": STAFF, "send_form_8879": SENIOR,
    "list_client_disclosures": STAFF,
    # §11.1–11.5 e-filing (docs/efile.md): staff read; admins and EA/CPAs transmit and resubmit
    "list_efile_transmissions": STAFF, "get_efile_transmission": STAFF, "list_efile_rejections": STAFF,
    "transmit_return": BILLING, "resubmit_efile_transmission": BILLING,
    # §12 identity verification (docs/identity.md): staff and the client; senior staff decide a review
    "initiate_identity_verification": EVERYONE, "get_identity_verification": EVERYONE,
    "send_identity_email_code": EVERYONE, "verify_identity_email_code": EVERYONE,
    "send_identity_phone_code": EVERYONE, "verify_identity_phone_code": EVERYONE,
    "start_identity_government_id": EVERYONE, "schedule_identity_video": EVERYONE,
    "review_identity_verification": frozenset({"admin", "ea_cpa", "reviewer"}),
}

# Bodies that pass validation, so that what answers is the permission check, not a 400. `{client_id}` and the
# like are the ids of the firm the call is about.
BODIES = {
    "create_client": {"client_type": "individual", "name": "Matrix client"},
    "update_client": {"phone": "555-123-4567"},
    "add_contact": {"name": "Matrix contact"},
    "update_contact": {"relationship": "spouse"},
    "create_return": {"client_id": "{client_id}", "tax_year": date.today().year - 2, "return_type": "1040"},
    "update_return": {"priority": "high"},
    "transition_return": {"action": "request_documents"},
    "analyze_return": {},
    "update_document": {"tax_year": date.today().year - 1},
    "update_extracted_field": {"verified": True},
    "create_client_from_batch": {"first_name": "Matrix", "last_name": "Batch", "tax_year": date.today().year - 1},
    "create_question": {"question_text": "Any new dependants?"},
    "answer_question": {"answer_text": "None"},
    "skip_question": {"reason": "Not needed"},
    "send_message": {"subject": "Matrix", "body": "Hello"},
    "create_invoice": {"client_id": "{client_id}", "line_items": [{"description": "1040", "unit_price": "100.00"}]},
    "update_invoice": {"line_items": [{"description": "1040", "unit_price": "120.00"}]},
    "record_payment": {"amount": "10.00", "payment_method": "check"},
    "create_estimated_payment_schedule": {"tax_year": date.today().year, "federal_annual": "400.00"},
    "update_estimated_payment": {"federal_amount": "110.00"},
    "remind_estimated_payment": {},
    "confirm_estimated_payment": {"payment_date": date.today().isoformat(), "payment_method": "ach"},
    "create_user": {"email": "matrix-{nonce}@firm.example.com", "full_name": "Matrix User", "role": "preparer"},
    "update_user": {"full_name": "Matrix Renamed"},
    "update_config": {"session_timeout_minutes": 60},
    "export_audit_log": {"start_date": "2024-01-01T00:00:00Z", "end_date": "2024-02-01T00:00:00Z"},
    "temporal_codec": {"payloads": []},
    # portal connections and outbound webhooks
    "create_portal_connection": {"client_id": "{client_id}", "base_url": "https://portal.example.com",
                                 "email": "matrix@example.com", "password": "secret", "consent_id": "{consent_id}"},
    "create_webhook_endpoint": {"url": "https://93.184.215.14/hook", "events": ["invoice.paid"]},
    "update_webhook_endpoint": {"description": "Matrix"},
    # e-signature
    "create_client_consent": {"tax_year": date.today().year - 1, "consent_scope": "SurePrep document processing",
                              "third_party_name": "SurePrep", "disclosure_purpose": "Document processing"},
    "create_engagement": {"client_id": "{client_id}", "tax_year": date.today().year - 1, "engagement_type": "tax_prep",
                          "services": ["1040"], "fee_structure": {"type": "fixed", "base_fee": "400.00"}},
    "update_engagement": {"services": ["1040", "schedule_c"]},
    # e-filing and identity verification
    "transmit_return": {"jurisdictions": ["federal"]},
    "resubmit_efile_transmission": {"notes": "Corrected the name"},
    "initiate_identity_verification": {"tier": 1, "methods": ["email"]},
    "verify_identity_email_code": {"code": "000000"},
    "verify_identity_phone_code": {"code": "000000"},
    "send_identity_phone_code": {"method": "sms"},
    "schedule_identity_video": {"preferred_times": ["2030-01-01T10:00:00Z"]},
    "review_identity_verification": {"step": "government_id", "decision": "approve"},
}
UPLOADS = {"upload_document": {"client_id": "{client_id}", "tax_year": str(date.today().year - 1)},
           "upload_pending_document": {"batch_id": "matrix-{nonce}"}}
# Operations that name a firm's object in their body rather than their path.
NAMED_IN_BODY = ("create_return", "create_invoice", "upload_document", "create_portal_connection", "create_engagement")
# Calls that end what later calls need (a session, a user, an object) go last, in this order.
LAST = ("delete_contact", "delete_document", "delete_extraction", "cancel_estimated_payment", "void_invoice",
        "revoke_consent", "delete_engagement", "delete_webhook_endpoint", "delete_return", "delete_client",
        "deactivate_user", "logout")


def _pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Role matrix statement 2024")
    return bytes(pdf.output())


@dataclass
class Firm:
    ids: dict[str, str]
    headers: dict[str, dict]


async def _created(response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()["data"]


async def seed_firm(tp) -> Firm:
    """A firm with a user of every role, and one object of every kind, assigned to its preparer."""
    firm_id = await tp.new_firm("Role matrix")
    headers, users = {}, {}
    for role in STAFF:
        users[role], headers[role] = await tp.staff_session(firm_id, role)
    target, _ = await tp.staff_session(firm_id, "preparer")
    admin, http = headers["admin"], tp.http
    email = f"matrix-{uuid.uuid4().hex[:8]}@example.com"
    client = await _created(await http.post("/v1/clients", headers=admin, json={
        "client_type": "individual", "name": "Matrix", "email": email,
        "assigned_preparer_id": str(users["preparer"])}))
    headers["client"] = await portal_headers(tp, email)
    cid = client["id"]
    tax_return = await _created(await http.post("/v1/returns", headers=admin, json={
        "client_id": cid, "tax_year": date.today().year - 1, "return_type": "1040"}))
    rid = tax_return["id"]
    contact = await _created(await http.post(f"/v1/clients/{cid}/contacts", headers=admin, json={"name": "C"}))
    invoice = await _created(await http.post("/v1/invoices", headers=admin, json={
        "client_id": cid, "line_items": [{"description": "1040", "unit_price": "100.00"}]}))
    message = await _created(await http.post(f"/v1/clients/{cid}/messages", headers=admin,
                                             json={"subject": "S", "body": "B"}))
    question = await _created(await http.post(f"/v1/returns/{rid}/questions", headers=admin,
                                              json={"question_text": "Q?"}))
    schedule = await _created(await http.post(f"/v1/returns/{rid}/estimated-payments", headers=admin, json={
        "tax_year": date.today().year, "federal_annual": "400.00"}))
    document = await _created(await http.post("/v1/documents", headers=admin, data={
        "client_id": cid, "tax_year": str(date.today().year - 1), "return_id": rid},
        files={"file": ("statement.pdf", _pdf(), "application/pdf")}))
    # An outbound webhook endpoint (a public literal address: nothing to resolve). A portal connection needs a
    # portal's sign-in and a signed consent: its ids name nothing, so only the role and firm checks before the
    # lookup are meaningful there (tests/portal covers the rest).
    endpoint = await _created(await http.post("/v1/admin/webhooks", headers=admin, json={
        "url": "https://93.184.215.14/hook", "events": ["invoice.paid"]}))
    consent = await _created(await http.post(f"/v1/clients/{cid}/consents", headers=admin,
                                             json=BODIES["create_client_consent"]))
    engagement = await _created(await http.post("/v1/engagements", headers=admin,
                                                json=_filled(BODIES["create_engagement"], {"client_id": cid})))
    transmission_id = await rejected_transmission(tp, firm_id, cid, rid)
    verification = await _created(await http.post(f"/v1/clients/{cid}/identity/verify", headers=admin, json={
        "tier": 1, "methods": ["email"]}))
    unknown = str(uuid.uuid4())
    return Firm(ids={
        "endpoint_id": endpoint["id"], "delivery_id": unknown, "connection_id": unknown, "sync_id": unknown,
        "surface": "organizers",
        "client_id": cid, "return_id": rid, "contact_id": contact["id"], "invoice_id": invoice["id"],
        "message_id": message["id"], "question_id": question["id"], "payment_id": schedule["payments"][0]["id"],
        "document_id": document["id"], "user_id": str(target), "analysis_id": unknown, "field_id": unknown,
        "export_id": unknown, "batch_id": "no-such-batch", "operation": "decode",
        "consent_id": consent["id"], "engagement_id": engagement["id"],
        "transmission_id": transmission_id, "verification_id": verification["verification_id"],
    }, headers=headers)


def _filled(value, ids: dict):
    if isinstance(value, str):
        return value.format(**ids, nonce=uuid.uuid4().hex[:8])
    if isinstance(value, dict):
        return {k: _filled(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, ids) for v in value]
    return value


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    secured: bool

    @property
    def names_objects(self) -> bool:
        """Its path names objects of a firm (not the codec's `{operation}`)."""
        return any(part.startswith("{") and part.endswith("_id}") for part in self.path.split("/"))

    async def call(self, tp, headers: dict | None, ids: dict):
        url = self.path.format(**ids)
        kwargs: dict = {"headers": headers or {}}
        if self.operation_id in UPLOADS:
            kwargs["data"] = _filled(UPLOADS[self.operation_id], ids)
            kwargs["files"] = {"file": ("statement.pdf", _pdf(), "application/pdf")}
        elif self.operation_id in BODIES:
            kwargs["json"] = _filled(BODIES[self.operation_id], ids)
        return await tp.http.request(self.method.upper(), url, **kwargs)


def operations(document: dict) -> list[Operation]:
    found = [Operation(op["operationId"], method, path, bool(op.get("security")))
             for path, item in document["paths"].items() for method, op in item.items()]
    order = {name: i for i, name in enumerate(LAST)}
    return sorted(found, key=lambda o: (order.get(o.operation_id, -1), o.path, o.method))


async def test_every_operation_states_who_may_call_it(tp):
    document = (await tp.http.get("/v1/openapi.json")).json()
    secured = {o.operation_id for o in operations(document) if o.secured}
    assert sorted(secured - PERMITTED.keys()) == [], "add the new operations to PERMITTED (and BODIES)"
    needs_body = {op["operationId"] for item in document["paths"].values() for op in item.values()
                  if op.get("requestBody", {}).get("required") and op.get("security")}
    assert sorted(needs_body - BODIES.keys() - UPLOADS.keys()) == []


@pytest.mark.parametrize("role", ROLES)
async def test_role_matrix(tp, role):
    document = (await tp.http.get("/v1/openapi.json")).json()
    own, foreign = await seed_firm(tp), await seed_firm(tp)
    wrong = []
    for operation in (o for o in operations(document) if o.secured):
        label = f"{role} {operation.method.upper()} {operation.path} ({operation.operation_id})"
        if role == ROLES[0]:  # once: without a token (before anything the calls change)
            anonymous = await operation.call(tp, None, own.ids)
            if anonymous.status_code != 401:
                wrong.append(f"no token {label}: {anonymous.status_code}")
        headers = own.headers[role]
        if operation.names_objects or operation.operation_id in NAMED_IN_BODY:
            # Another firm's objects, with this firm's token: refused, never answered. An id in the body that
            # names nothing the caller may use is a business rule (422) where the service says so.
            answer = await operation.call(tp, headers, foreign.ids)
            refusals = (403, 404, 422) if operation.operation_id in NAMED_IN_BODY else (403, 404)
            if answer.status_code not in refusals:
                wrong.append(f"foreign {label}: {answer.status_code} {answer.text[:200]}")
        answer = await operation.call(tp, headers, own.ids)
        permitted = PERMITTED.get(operation.operation_id)
        if answer.status_code >= 500 or answer.status_code == 401:
            wrong.append(f"own {label}: {answer.status_code} {answer.text[:200]}")
        elif permitted is None:
            continue
        elif role in permitted and answer.status_code == 403:
            wrong.append(f"own {label}: refused a permitted role: {answer.text[:200]}")
        elif role not in permitted and answer.status_code not in (403, 404):
            wrong.append(f"own {label}: answered {answer.status_code} to a role the spec does not permit")
    assert wrong == [], "\n".join(wrong)
