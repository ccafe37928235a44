"""A return's Form 8879 sent for e-signature (docs/esign.md): the return's `send_for_signature`, by the system
actor once the form is with the taxpayer, and `signature_received` once it is signed (the webhook)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api import envelope
from api.deps import Ctx, State
from api.json_route import JSONRoute
from api.openapi import One, answers
from api.schemas.signing import SendOut, SignatureOut
from api.v1.signing import SENDING, sent_out, signature_out
from domain import policy
from domain.errors import NotFound
from domain.esign import service as esign
from domain.esign.form_8879 import check_sendable
from domain.tax_return.service import load_visible_return
from orchestration import form_8879 as workflow

router = APIRouter(route_class=JSONRoute, tags=["returns"])


@router.post("/returns/{return_id}/form-8879/send", summary="Send Form 8879 to the taxpayer for e-signature",
             operation_id="send_form_8879", **answers(One(SendOut), 403, 404, 422, also=SENDING))
async def send_form_8879(return_id: uuid.UUID, ctx: Ctx, state: State):
    """Admin, EA/CPA, reviewer; an approved return. The form's figures leave for the e-signature provider under
    the regulatory exception `esignature_of_return` (a disclosure log row). Once the provider has it, the return
    takes `send_for_signature` (approved → pending_signature) as the system actor."""
    tax_return, _ = await check_sendable(ctx, return_id)
    await ctx.session.commit()  # the gate's row stands whatever happens to the send
    result = await workflow.send(await state.temporal(), tax_return)
    if result is None:
        return JSONResponse(envelope.one(sent_out(return_id, tax_return.status)), status_code=202)
    body = envelope.one(sent_out(return_id, "pending_signature", result.signature_request_id, result.sent_at))
    # The request's transaction closed with the gate's row: the return's event commits in one of its own.
    async with state.sessionmaker() as session:
        await state.outbox.commit_and_send(session, workflow.return_event(return_id, "send_for_signature"))
    return body


@router.get("/returns/{return_id}/form-8879", summary="The return's Form 8879 signature and its evidence",
            operation_id="get_form_8879", **answers(One(SignatureOut), 403, 404))
async def get_form_8879(return_id: uuid.UUID, ctx: Ctx):
    policy.require(ctx.principal, "form_8879.read")
    await load_visible_return(ctx, return_id)
    request = await esign.latest_request(ctx.session, "form_8879", return_id)
    if request is None:
        raise NotFound("Form 8879 signature")
    return envelope.one(signature_out(request))
