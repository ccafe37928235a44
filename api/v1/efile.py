"""E-filing (spec §11.1–11.5): transmit a return per jurisdiction, follow its acknowledgements, read its
rejections, resubmit after a correction. The transmissions and their workflows' start messages commit
together (the outbox starts one EfileTransmissionWorkflow per transmission); the workflow does the rest."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from api import envelope
from api.deps import Ctx, State
from api.json_route import JSONRoute
from api.openapi import One, Page, answers
from api.schemas.efile import (
    Rejections, Resubmitted, ResubmitRequest, TransmissionDetail, TransmissionOut, Transmitted, TransmitRequest,
)
from domain.efile import service
from domain.efile.models import EfileAcknowledgement, EfileRejection, EfileTransmission
from domain.errors import ServiceUnavailable
from domain.tax_return.models import TaxReturn
from orchestration import efile as workflow
from orchestration.message import OutboxMessage

router = APIRouter(route_class=JSONRoute, tags=["e-filing"])


def transmission_out(t: EfileTransmission) -> dict:
    return {
        "id": str(t.id), "return_id": str(t.return_id), "jurisdiction": t.jurisdiction,
        "transmission_type": t.transmission_type, "submission_id": t.submission_id, "status": t.status,
        "attempts": t.attempts,
        "federal_transmission_id": str(t.federal_transmission_id) if t.federal_transmission_id else None,
        "previous_transmission_id": str(t.previous_transmission_id) if t.previous_transmission_id else None,
        "transmitted_at": t.transmitted_at, "acknowledged_at": t.acknowledged_at,
        "confirmation_number": t.confirmation_number, "acceptance_date": t.acceptance_date,
        "filing_date": t.filing_date, "filing_date_kept": t.filing_date_kept,
        "perfection_deadline": t.perfection_deadline, "paper_filing_required": t.paper_filing_required,
        "escalated_at": t.escalated_at, "resolved_at": t.resolved_at,
    }


def rejection_out(r: EfileRejection) -> dict:
    return {"id": str(r.id), "submission_id": r.submission_id, "error_code": r.error_code, "category": r.category,
            "severity": r.severity, "description": r.description, "data_value": r.data_value,
            "resolution_guidance": r.resolution_guidance, "auto_correctable": r.auto_correctable,
            "created_at": r.created_at}


def acknowledgement_out(a: EfileAcknowledgement | None) -> dict | None:
    if a is None:
        return None
    return {"id": str(a.id), "ack_type": a.ack_type, "confirmation_number": a.confirmation_number,
            "received_at": a.received_at, "received_via": a.received_via}


def _start(state, transmission: EfileTransmission, return_type: str) -> OutboxMessage:
    settings = state.settings
    return workflow.started(workflow.EfileTransmissionInput(
        transmission_id=transmission.id, firm_id=transmission.firm_id, return_id=transmission.return_id,
        jurisdiction=transmission.jurisdiction, return_type=return_type,
        poll_initial_s=settings.efile_poll_initial_s, poll_max_s=settings.efile_poll_max_s))


def _require_configured(state) -> None:
    if not state.settings.efiling_api_url:
        raise ServiceUnavailable("E-filing is not configured (EFILING_API_URL)")


@router.get("/returns/{return_id}/efiling", summary="List a return's e-file transmissions",
            operation_id="list_efile_transmissions", **answers(Page(TransmissionOut), 403, 404))
async def list_transmissions(return_id: uuid.UUID, ctx: Ctx):
    """Every transmission of the return (each jurisdiction, retries and resubmissions), in one page."""
    rows = await service.list_transmissions(ctx, return_id)
    return envelope.many(transmission_out(t) for t in rows)


@router.post("/returns/{return_id}/efiling/transmit",
             summary="Transmit a return to the IRS and states (admin, EA/CPA)", operation_id="transmit_return",
             **answers(One(Transmitted), 403, 404, 409, 422, status=202))
async def transmit(return_id: uuid.UUID, body: TransmitRequest, ctx: Ctx, state: State):
    """Guards, each a 422 naming its reason: `return_not_ready_to_file`, `form_8879_missing`,
    `identity_not_verified` (a remotely signed 8879 and the client not verified), `forms_incomplete`. One
    transmission per jurisdiction, `federal` required; a state waits (`pending`) for the federal acceptance."""
    _require_configured(state)
    figures = body.figures.model_dump(mode="json", exclude_none=True) if body.figures else {}
    rows = await service.transmit(ctx, return_id, body.jurisdictions, figures, state.settings.efin)
    tax_return_type = (await ctx.session.get(TaxReturn, return_id)).return_type
    answer = envelope.one({"transmissions": [transmission_out(t) for t in rows]})
    await state.outbox.commit_and_send(ctx.session, *[_start(state, t, tax_return_type) for t in rows])
    return answer


# `:uuid`: the path `…/efiling/transmit` is the transmit operation's alone (its 405 answers `Allow: POST`), not
# also this one's with an id that can never be.
@router.get("/returns/{return_id}/efiling/{transmission_id:uuid}", summary="Get an e-file transmission",
            operation_id="get_efile_transmission", **answers(One(TransmissionDetail), 403, 404))
async def get_transmission(return_id: uuid.UUID, transmission_id: uuid.UUID, ctx: Ctx):
    transmission, ack = await service.get_transmission(ctx, return_id, transmission_id)
    current = [r for r in await service.rejections(ctx.session, transmission.id)
               if r.submission_id == transmission.submission_id]
    return envelope.one({**transmission_out(transmission), "acknowledgement": acknowledgement_out(ack),
                         "rejection": rejection_out(current[0]) if current else None})


@router.get("/returns/{return_id}/efiling/{transmission_id}/rejections",
            summary="Rejection details of a transmission", operation_id="list_efile_rejections",
            **answers(One(Rejections), 403, 404))
async def get_rejections(return_id: uuid.UUID, transmission_id: uuid.UUID, ctx: Ctx):
    """Every rejection of the transmission (technical retries included), with its business rule number,
    category, severity, message, data value, resolution guidance and whether it is auto-correctable."""
    transmission, _ = await service.get_transmission(ctx, return_id, transmission_id)
    found = await service.rejections(ctx.session, transmission.id)
    return envelope.one({"transmission_id": str(transmission.id), "jurisdiction": transmission.jurisdiction,
                         "rejections": [rejection_out(r) for r in found]})


@router.post("/returns/{return_id}/efiling/{transmission_id}/resubmit",
             summary="Resubmit a rejected transmission (admin, EA/CPA)", operation_id="resubmit_efile_transmission",
             **answers(One(Resubmitted), 403, 404, 409, 422, status=202))
async def resubmit(return_id: uuid.UUID, transmission_id: uuid.UUID, body: ResubmitRequest, ctx: Ctx,
                   state: State):
    """A new Submission ID linked to the rejected one. Figures changed beyond the IRS tolerance (more than $50
    of income or AGI, or $14 of tax) need a signed Form 8879 newer than the rejected submission (422
    `form_8879_missing`). Within the perfection period the original filing date is kept; after it the
    resubmission goes, with a new filing date, and the answer says so."""
    _require_configured(state)
    figures = body.figures.model_dump(mode="json", exclude_none=True) if body.figures else None
    done = await service.resubmit(ctx, return_id, transmission_id, body.notes, figures, state.settings.efin)
    tax_return_type = (await ctx.session.get(TaxReturn, return_id)).return_type
    note = ("Retransmitted within the perfection period: the original filing date is kept." if done.filing_date_kept
            else "Retransmitted after the perfection period: the filing date is the new transmission's date.")
    answer = envelope.one({"transmissions": [transmission_out(t) for t in done.transmissions],
                           "filing_date_kept": done.filing_date_kept, "filing_date_note": note,
                           "beyond_tolerance": done.beyond_tolerance})
    messages = [_start(state, t, tax_return_type) for t in done.transmissions]
    messages.append(workflow.resolved(transmission_id))
    await state.outbox.commit_and_send(ctx.session, *messages)
    return answer
