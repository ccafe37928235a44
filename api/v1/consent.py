"""Form 7216 consents (spec §10; docs/consent.md): create, read, send for e-signature, revoke."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api import envelope
from api.deps import Ctx, State
from api.json_route import JSONRoute
from api.openapi import One, Page, answers
from api.schemas.signing import ConsentCreate, ConsentOut, SendOut
from api.v1.client import iso
from api.v1.signing import SENDING, sent_out, signature_out
from domain.consent import service
from domain.consent.models import Consent
from domain.esign.models import SignatureRequest
from orchestration import consent as workflow

router = APIRouter(route_class=JSONRoute, tags=["consents"])


def consent_out(consent: Consent, request: SignatureRequest | None = None) -> dict:
    return {
        "id": str(consent.id), "client_id": str(consent.client_id), "tax_year": consent.tax_year,
        "kind": consent.kind, "consent_scope": consent.consent_scope, "third_party_name": consent.third_party_name,
        "disclosure_purpose": consent.disclosure_purpose, "purpose": consent.purpose,
        "information_covered": consent.information_covered, "template_version": consent.template_version,
        "status": consent.status, "created_at": iso(consent.created_at), "sent_at": iso(consent.sent_at),
        "signed_at": iso(consent.signed_at), "declined_at": iso(consent.declined_at),
        "expires_at": iso(consent.expires_at), "requested_expires_at": iso(consent.requested_expires_at),
        "revoked_at": iso(consent.revoked_at), "signature": signature_out(request),
    }


@router.get("/clients/{client_id}/consents", summary="List a client's Form 7216 consents",
            operation_id="list_client_consents", **answers(Page(ConsentOut), 404))
async def list_client_consents(client_id: uuid.UUID, ctx: Ctx):
    """Newest first, the whole list in one page (`signature` is null: read one consent for it); staff who may
    see the client, or the client."""
    return envelope.many(consent_out(c) for c in await service.list_consents(ctx, client_id))


@router.post("/clients/{client_id}/consents", summary="Create a Form 7216 consent (pending)",
             operation_id="create_client_consent", **answers(One(ConsentOut), 403, 404, 422, status=201))
async def create_client_consent(client_id: uuid.UUID, body: ConsentCreate, ctx: Ctx):
    """Admin, EA/CPA, reviewer. `kind` defaults to `disclosure`; `purpose` (the gate's code) is implied for
    SurePrep and required otherwise; `information_covered` defaults to what the purpose's path discloses;
    without `expires_at` the consent lasts one year from its signature."""
    consent = await service.create_consent(ctx, client_id, body.model_dump())
    return envelope.one(consent_out(consent))


@router.get("/consents/{consent_id}", summary="Get a consent with its signature and evidence",
            operation_id="get_consent", **answers(One(ConsentOut), 404))
async def get_consent(consent_id: uuid.UUID, ctx: Ctx):
    consent, request = await service.get_consent(ctx, consent_id)
    return envelope.one(consent_out(consent, request))


@router.post("/consents/{consent_id}/send", summary="Send a consent to the client for e-signature",
             operation_id="send_consent", **answers(One(SendOut), 403, 404, 422, also=SENDING))
async def send_consent(consent_id: uuid.UUID, ctx: Ctx, state: State):
    """Admin, EA/CPA, reviewer; a pending consent. Renders the consent (its template version's words) as a PDF,
    stores it, and asks the e-signature provider, which mails the client the signing link. A repeated send
    answers the first one."""
    consent = await service.check_sendable(ctx, consent_id)
    result = await workflow.send(await state.temporal(), consent)
    if result is None:
        return JSONResponse(envelope.one(sent_out(consent.id, consent.status)), status_code=202)
    return envelope.one(sent_out(consent.id, result.status, result.signature_request_id, result.sent_at))


@router.post("/consents/{consent_id}/revoke", summary="Revoke a consent, at once",
             operation_id="revoke_consent", **answers(One(ConsentOut), 403, 404, 422))
async def revoke_consent(consent_id: uuid.UUID, ctx: Ctx, state: State):
    """Senior staff or the client. From this answer on, the disclosure gate refuses every disclosure that relied
    on it (work in flight stops before its next disclosure); the consent's workflow then ends."""
    consent = await service.revoke_consent(ctx, consent_id)
    body = envelope.one(consent_out(consent))
    await state.outbox.commit_and_send(ctx.session, workflow.event(consent.id, "revoked"))
    return body
