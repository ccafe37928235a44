"""Form 7216 consents (spec §10; docs/consent.md): create, read, send for e-signature, revoke."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api import envelope
from api.deps import Ctx, State
from api.schemas.signing import ConsentCreate, ConsentOut, Many, One, SendOut, SignatureOut, problem_responses
from domain.consent import service
from domain.consent.models import Consent
from domain.esign.models import SignatureRequest
from orchestration import consent as workflow

router = APIRouter(tags=["consents"])


def signature_out(request: SignatureRequest | None) -> dict | None:
    if request is None:
        return None
    return SignatureOut.model_validate(request, from_attributes=True).model_dump()


def consent_out(consent: Consent, request: SignatureRequest | None = None) -> dict:
    body = ConsentOut.model_validate(consent, from_attributes=True).model_dump()
    body["signature"] = signature_out(request)
    return body


@router.get("/clients/{client_id}/consents", summary="List a client's Form 7216 consents",
            operation_id="list_client_consents", response_model=Many[ConsentOut],
            responses=problem_responses(401, 403, 404))
async def list_client_consents(client_id: uuid.UUID, ctx: Ctx):
    """Newest first; staff who may see the client, or the client."""
    return envelope.many(consent_out(c) for c in await service.list_consents(ctx, client_id))


@router.post("/clients/{client_id}/consents", status_code=201, summary="Create a Form 7216 consent (pending)",
             operation_id="create_client_consent", response_model=One[ConsentOut],
             responses=problem_responses(400, 401, 403, 404, 422))
async def create_client_consent(client_id: uuid.UUID, body: ConsentCreate, ctx: Ctx):
    """Admin, EA/CPA, reviewer. `kind` defaults to `disclosure`; `purpose` (the gate's code) is implied for
    SurePrep and required otherwise; `information_covered` defaults to what the purpose's path discloses;
    without `expires_at` the consent lasts one year from its signature."""
    consent = await service.create_consent(ctx, client_id, body.model_dump())
    return envelope.one(consent_out(consent))


@router.get("/consents/{consent_id}", summary="Get a consent with its signature and evidence",
            operation_id="get_consent", response_model=One[ConsentOut], responses=problem_responses(401, 403, 404))
async def get_consent(consent_id: uuid.UUID, ctx: Ctx):
    consent, request = await service.get_consent(ctx, consent_id)
    return envelope.one(consent_out(consent, request))


@router.post("/consents/{consent_id}/send", summary="Send a consent to the client for e-signature",
             operation_id="send_consent", response_model=One[SendOut],
             responses={202: {"description": "The provider is slow: the consent's workflow keeps sending"},
                        **problem_responses(401, 403, 404, 422, 502, 503)})
async def send_consent(consent_id: uuid.UUID, ctx: Ctx, state: State):
    """Renders the consent (its template version's words) as a PDF, stores it, and asks the e-signature provider,
    which mails the client the signing link. A repeated send answers the first one."""
    consent = await service.check_sendable(ctx, consent_id)
    result = await workflow.send(await state.temporal(), consent)
    if result is None:
        return JSONResponse(envelope.one({"id": str(consent.id), "status": consent.status,
                                          "signature_request_id": None, "sent_at": None}), status_code=202)
    return envelope.one({"id": consent.id, "status": result.status,
                         "signature_request_id": result.signature_request_id, "sent_at": result.sent_at})


@router.post("/consents/{consent_id}/revoke", summary="Revoke a consent, at once",
             operation_id="revoke_consent", response_model=One[ConsentOut],
             responses=problem_responses(401, 403, 404, 422))
async def revoke_consent(consent_id: uuid.UUID, ctx: Ctx, state: State):
    """Senior staff or the client. From this answer on, the disclosure gate refuses every disclosure that relied
    on it (work in flight stops before its next disclosure); the consent's workflow then ends."""
    consent = await service.revoke_consent(ctx, consent_id)
    body = envelope.one(consent_out(consent))
    await state.outbox.commit_and_send(ctx.session, workflow.event(consent.id, "revoked"))
    return body
