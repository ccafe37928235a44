"""The e-signature provider's callbacks and Google Calendar's (spec §13.1, `POST /v1/webhooks/google`), recorded
once (domain/webhook/ledger.py).

`signature.completed` / `signature.declined` name the provider's request id. An unknown request, one already
final, or a completion whose evidence is missing or is for other bytes than we sent, is refused (outcome
`rejected` with the reason; nothing changes). Otherwise the request keeps the evidence and what was signed — a
consent, an engagement letter, a return's Form 8879 — changes in the same transaction; the follow-up tells its
workflow (api/v1/webhook.py hands it off through the outbox). `calendar.event.updated` is acknowledged: the system
keeps no calendar yet."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from domain.consent import service as consents
from domain.context import ServiceContext
from domain.engagement import service as engagements
from domain.esign import form_8879
from domain.esign import service as esign
from domain.esign.evidence import parse_time, refusal
from domain.esign.models import FINAL_STATUSES
from domain.webhook.ledger import Applied, Delivery

SOURCE = "google"
SYSTEM_SOURCE = "esign_webhook"
SIGNATURE_EVENTS = {"signature.completed": "completed", "signature.declined": "declined"}

# What was signed → its domain effect: (ctx, subject id, "completed" | "declined", when) → None or why refused.
SubjectEffect = Callable[[ServiceContext, uuid.UUID, str, datetime], Awaitable[str | None]]
SUBJECT_EFFECTS: dict[str, SubjectEffect] = {
    "consent": consents.on_signature,
    "engagement": engagements.on_signature,
    "form_8879": form_8879.on_signature,
}


async def apply(session: AsyncSession, event: Delivery) -> Applied[dict]:
    if event.event_type == "calendar.event.updated":
        return Applied("acknowledged", "calendar events are received; the system keeps no calendar yet")
    outcome = SIGNATURE_EVENTS.get(event.event_type)
    if outcome is None:
        return Applied("ignored", f"event type {event.event_type} is not handled")
    data = event.payload["data"]
    provider_id = data.get("signature_request_id")
    request = await esign.by_provider_id(session, provider_id) if isinstance(provider_id, str) else None
    if request is None:
        return Applied("rejected", "unknown signature request")
    applied = dict(firm_id=request.firm_id, entity_type=request.subject_type, entity_id=request.subject_id)
    if request.status in FINAL_STATUSES:
        return Applied("rejected", f"the signature request is already {request.status}", **applied)
    evidence = data.get("evidence")
    why = refusal(evidence, request.document_sha256, request.signer_email, completed=outcome == "completed")
    if why is not None:
        return Applied("rejected", why, **applied)
    ctx = ServiceContext.for_system(session, request.firm_id, SYSTEM_SOURCE)
    effect = SUBJECT_EFFECTS.get(request.subject_type)
    if effect is None:
        return Applied("rejected", f"no effect for {request.subject_type} signatures", **applied)
    why = await effect(ctx, request.subject_id, outcome, parse_time(evidence["completed_at"]))
    if why is not None:
        # What was signed moved on meanwhile (revoked, expired): the callback changes nothing, the request included.
        return Applied("rejected", why, **applied)
    if outcome == "completed":
        esign.record_completed(request, evidence)
    else:
        esign.record_declined(request, data.get("reason"), evidence)
    await ctx.audit(f"signature.{outcome}", "signature_request", request.id, client_id=request.client_id,
                    details={"subject_type": request.subject_type, "subject_id": str(request.subject_id),
                             "provider_request_id": request.provider_request_id})
    return Applied("applied", **applied, follow_up={"subject_type": request.subject_type,
                                                    "subject_id": str(request.subject_id), "outcome": outcome})
