"""Inbound webhooks (spec §13.1), every provider through one pattern (`receive`; docs/webhook.md):

1. verify the signature over the raw bytes, before anything is parsed: a bad one is refused (Stripe: 400,
   HMAC providers: 401) and nothing is recorded;
2. read the signed body (domain/webhook_body.py): one we cannot read or store is a 400, nothing recorded;
3. record the event once in the ledger and apply its effect in the same transaction (domain/webhook/ledger.py):
   a repeat, even a concurrent one, answers as a duplicate and changes nothing;
4. in that same transaction, write what the entity's workflow must hear (and any mail) to the outbox
   (`hand_off`: `invoice_messages`, `smartvault_import_messages`); it is sent after the commit, or by the outbox
   relay if Temporal cannot be reached then (docs/orchestration.md), so the sender never needs to deliver again
   for our sake;
5. answer, in the provider's own shape.
A provider is its verification, its effect (domain/webhook/<source>.py), its handoff and its answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from sqlalchemy.ext.asyncio import AsyncSession

from api import envelope
from api.deps import State
from api.json_route import JSONRoute
from api.openapi import One, answers
from api.schemas.webhook import (
    HMAC_EVENT, PERSONA_EVENT, PERSONA_SIGNATURE, STRIPE_EVENT, STRIPE_SIGNATURE, StripeReceipt, WebhookReceipt,
    hmac_signature,
)
from api.state import AppState
from domain.errors import FieldError, NotFound, Unauthorized, ValidationFailed
from domain.user.service import firm_decider_emails
from domain.webhook import efiling, google, persona, smartvault, stripe, sureprep
from domain.webhook.event import parse_event
from domain.webhook.ledger import Applied, Delivery, Receipt, receive as record_and_apply
from domain.webhook_body import parse_json
from integrations.payments import InvalidWebhook
from integrations.persona import persona_signature_valid
from integrations.webhook_hmac import hmac_valid
from orchestration import consent as consent_workflow
from orchestration import document as document_workflow
from orchestration import efile as efile_workflow
from orchestration import identity as identity_workflow
from orchestration import engagement as engagement_workflow
from orchestration import form_8879 as form_8879_workflow
from orchestration import invoice as invoice_workflow
from orchestration.mail import mail
from orchestration.message import OutboxMessage

router = APIRouter(route_class=JSONRoute, tags=["webhooks"])


@dataclass(frozen=True)
class Provider:
    # The raw body and headers → the verified, parsed delivery; raises the refusal (nothing is recorded).
    verify: Callable[[AppState, bytes, Any], Delivery]
    # The effect, in the ledger's transaction.
    apply: Callable[[AppState, AsyncSession, Delivery], Awaitable[Applied]]
    # The answer's body.
    answer: Callable[[Receipt], dict]
    # In the same transaction, the first delivery only: the outbox messages for the entity's workflow (and mails).
    hand_off: Callable[[AsyncSession, Delivery, Receipt], Awaitable[list[OutboxMessage]]] | None = None


async def receive(provider: Provider, request: Request, state: AppState, background: BackgroundTasks) -> dict:
    delivery = provider.verify(state, await request.body(), request.headers)
    pending = []
    async with state.sessionmaker.begin() as session:
        receipt = await record_and_apply(session, delivery, lambda s: provider.apply(state, s, delivery))
        if provider.hand_off is not None and not receipt.duplicate:  # a repeat's messages left with the first
            pending = [await state.outbox.add(session, message)
                       for message in await provider.hand_off(session, delivery, receipt)]
    # After the response: the sender waits on none of it, and every message is committed already.
    background.add_task(state.outbox.send, *pending)
    return provider.answer(receipt)


# ---- Stripe ----------------------------------------------------------------------------------------------------
# Verified with the SDK. A payment is recorded in the event's transaction, together with the message that tells
# the invoice's workflow (and the mails of a refund due).

def _verify_stripe(state: AppState, body: bytes, headers) -> Delivery:
    try:
        event = state.payments.verify_webhook(body, headers.get("stripe-signature"))
    except InvalidWebhook as exc:
        raise ValidationFailed("The Stripe-Signature header does not verify this body",
                               [FieldError("Stripe-Signature", "invalid_signature", str(exc))]) from None
    return stripe.delivery(event)


async def invoice_messages(session: AsyncSession, delivery: Delivery, receipt: Receipt) -> list[OutboxMessage]:
    """The invoice's workflow hears of the payment (or the failed one); the firm's admins and EA/CPAs are mailed
    of money the invoice does not bill (the refund is on record as its audit row; no invoice workflow runs for a
    void or draft invoice to tell them)."""
    messages = []
    notice = stripe.invoice_notice(receipt, delivery.payload)
    if notice is not None:
        messages.append(invoice_workflow.event(notice.invoice_id, notice.kind, event_id=notice.event_id,
                                               message=notice.message))
    refund = receipt.follow_up
    if refund is not None:
        messages += [mail(address,
                          f"Refund due: invoice {refund.invoice_number} received {refund.amount} it does not bill",
                          f"A card payment was recorded on invoice {refund.invoice_number}, but {refund.reason}: "
                          f"{refund.amount} is owed back to the client. Refund it in Stripe.\n",
                          about=f"invoice:{refund.invoice_number}")
                     for address in await firm_decider_emails(session, refund.firm_id)]
    return messages


STRIPE = Provider(
    verify=_verify_stripe,
    apply=lambda state, session, delivery: stripe.apply(session, delivery.payload, state.settings.stripe_currency),
    answer=lambda r: envelope.one({"event_id": r.event_id, "duplicate": r.duplicate, "outcome": r.outcome}),
    hand_off=invoice_messages,
)


@router.post("/webhooks/stripe", summary="Receive a Stripe event", operation_id="receive_stripe_webhook",
             **answers(One(StripeReceipt), public=True, body=STRIPE_EVENT, headers=[STRIPE_SIGNATURE]))
async def stripe_webhook(request: Request, state: State, background: BackgroundTasks):
    """Handles payment_intent.succeeded, checkout.session.completed (recording the payment of the invoice in
    `metadata.invoice_id`) and payment_intent.payment_failed (recorded; the client is told). Other event
    types are acknowledged and ignored."""
    return await receive(STRIPE, request, state, background)


# ---- SurePrep and SmartVault -----------------------------------------------------------------------------------
# Signed with an HMAC over the raw body (401 without a valid one). Every authenticated event is answered 200 with
# its outcome — a replay `duplicate`, a refused event `rejected`/`stale` with the reason — so the sender stops
# retrying what can never apply.

def _hmac_verifier(source: str, header: str) -> Callable[[AppState, bytes, Any], Delivery]:
    def verify(state: AppState, body: bytes, headers) -> Delivery:
        # A provider that is not configured (its API URL unset) takes no webhooks: the route answers as if it did
        # not exist, so a development secret left behind opens nothing.
        if not getattr(state.settings, f"{source}_api_url"):
            raise NotFound("Route")
        # The current secret, and while a rotation is under way the previous one (its setting is then set).
        secrets = [getattr(state.settings, f"{source}_webhook_secret"),
                   getattr(state.settings, f"{source}_webhook_previous_secret")]
        if not any(secret and hmac_valid(secret, headers.get(header), body) for secret in secrets):
            raise Unauthorized("Invalid or missing webhook signature")
        return parse_event(source, parse_json(body))
    return verify


def _outcome_answer(receipt: Receipt) -> dict:
    if receipt.duplicate:
        return {"received": True, "outcome": "duplicate", "reason": None}
    return {"received": True, "outcome": receipt.outcome, "reason": receipt.reason}


SUREPREP = Provider(
    verify=_hmac_verifier(sureprep.SOURCE, "x-sureprep-signature"),
    apply=lambda state, session, delivery: sureprep.apply(
        session, delivery, Decimal(str(state.settings.extraction_review_threshold))),
    answer=_outcome_answer,
)


@router.post("/webhooks/sureprep", summary="SurePrep webhook", operation_id="receive_sureprep_webhook",
             **answers(WebhookReceipt, 401, 404, public=True, body=HMAC_EVENT,
                       headers=[hmac_signature("X-SurePrep-Signature")]))
async def sureprep_webhook(request: Request, state: State, background: BackgroundTasks):
    """binder.submitted, binder.processing_complete, binder.verification_complete, document.uploaded,
    extraction.ready (the fields land on the document's extraction). Signed with X-SurePrep-Signature."""
    return await receive(SUREPREP, request, state, background)


async def smartvault_import_messages(session: AsyncSession, delivery: Delivery,
                                    receipt: Receipt) -> list[OutboxMessage]:
    """A SmartVaultImport workflow, one per SmartVault document, starts with the event's record."""
    if receipt.follow_up is None:
        return []
    job = document_workflow.SmartVaultImportInput(**receipt.follow_up)
    return [document_workflow.smartvault_import_requested(job)]


SMARTVAULT = Provider(
    verify=_hmac_verifier(smartvault.SOURCE, "x-smartvault-signature"),
    apply=lambda state, session, delivery: smartvault.apply(session, delivery),
    answer=_outcome_answer,
    hand_off=smartvault_import_messages,
)


@router.post("/webhooks/smartvault", summary="SmartVault webhook", operation_id="receive_smartvault_webhook",
             **answers(WebhookReceipt, 401, 404, public=True, body=HMAC_EVENT,
                       headers=[hmac_signature("X-SmartVault-Signature")]))
async def smartvault_webhook(request: Request, state: State, background: BackgroundTasks):
    """document.uploaded imports the file into the pending (upload-first) queue; folder.created is
    acknowledged. Signed with X-SmartVault-Signature."""
    return await receive(SMARTVAULT, request, state, background)


# ---- E-filing transmitter --------------------------------------------------------------------------------------
# Signed like SurePrep (X-Efiling-Signature: t=…,v1=…). An acknowledgement is recorded in the event's transaction
# and the transmission's workflow is woken after the commit (it would otherwise find it at its next poll).

async def efile_messages(session: AsyncSession, delivery: Delivery, receipt: Receipt) -> list[OutboxMessage]:
    if receipt.follow_up is None:
        return []
    transmission_id, submission_id = receipt.follow_up
    return [efile_workflow.acknowledged(transmission_id, submission_id)]


EFILING = Provider(
    verify=_hmac_verifier(efiling.SOURCE, "x-efiling-signature"),
    apply=lambda state, session, delivery: efiling.apply(session, delivery),
    answer=_outcome_answer,
    hand_off=efile_messages,
)


@router.post("/webhooks/efiling", summary="E-file transmitter webhook", operation_id="efiling_webhook",
             **answers(WebhookReceipt, 401, 404, public=True, body=HMAC_EVENT,
                       headers=[hmac_signature("X-Efiling-Signature")]))
async def efiling_webhook(request: Request, state: State, background: BackgroundTasks):
    """transmission.accepted and transmission.rejected record the acknowledgement of a Submission ID;
    transmission.pending is acknowledged. Signed with X-Efiling-Signature."""
    return await receive(EFILING, request, state, background)


# ---- Persona ---------------------------------------------------------------------------------------------------
# Persona-Signature: t=…,v1=… pairs (two, space-separated, while a secret is rotated; either may match either of
# our secrets). Verified over the raw bytes before anything is parsed; 401 otherwise, nothing recorded.

def _verify_persona(state: AppState, body: bytes, headers) -> Delivery:
    settings = state.settings
    if not settings.persona_api_url:
        raise NotFound("Route")
    secrets = [settings.persona_webhook_secret] + (
        [settings.persona_webhook_previous_secret] if settings.persona_webhook_previous_secret else [])
    if not persona_signature_valid(secrets, headers.get("persona-signature"), body):
        raise Unauthorized("Invalid or missing webhook signature")
    return persona.parse_event(parse_json(body))


async def identity_messages(session: AsyncSession, delivery: Delivery, receipt: Receipt) -> list[OutboxMessage]:
    return [identity_workflow.finished(receipt.follow_up)] if receipt.follow_up is not None else []


PERSONA = Provider(
    verify=_verify_persona,
    apply=lambda state, session, delivery: persona.apply(session, delivery),
    answer=_outcome_answer,
    hand_off=identity_messages,
)


@router.post("/webhooks/persona", summary="Persona webhook", operation_id="persona_webhook",
             **answers(WebhookReceipt, 401, 404, public=True, body=PERSONA_EVENT, headers=[PERSONA_SIGNATURE]))
async def persona_webhook(request: Request, state: State, background: BackgroundTasks):
    """inquiry.completed (the confidence approves at 0.90, sends to manual review from 0.70, rejects below),
    inquiry.failed, inquiry.expired. Signed with Persona-Signature."""
    return await receive(PERSONA, request, state, background)


# ---- Google Workspace: e-signature callbacks and calendar ------------------------------------------------------
# Signed like SurePrep's (X-Google-Signature: t=…,v1=HMAC-SHA256 over "<t>.<raw body>"); the e-signature provider
# (GOOGLE_API_URL; sandboxes/esign.py in development) sends signature.completed and signature.declined.

# What was signed → the outbox message that tells its workflow (signed or declined).
SIGNATURE_MESSAGES = {"consent": consent_workflow.event, "engagement": engagement_workflow.event,
                      "form_8879": form_8879_workflow.event}


async def signature_messages(session: AsyncSession, delivery: Delivery, receipt: Receipt) -> list[OutboxMessage]:
    """The workflow of what was signed hears of it, once the row changed in this transaction."""
    follow_up = receipt.follow_up
    if follow_up is None or follow_up["subject_type"] not in SIGNATURE_MESSAGES:
        return []
    kind = "signed" if follow_up["outcome"] == "completed" else "declined"
    messages = [SIGNATURE_MESSAGES[follow_up["subject_type"]](follow_up["subject_id"], kind)]
    if follow_up["subject_type"] == "form_8879" and kind == "signed":
        # The return moves to ready_to_file through its own workflow, as the system actor.
        messages.append(form_8879_workflow.return_event(follow_up["subject_id"], "signature_received"))
    return messages


GOOGLE = Provider(
    verify=_hmac_verifier(google.SOURCE, "x-google-signature"),
    apply=lambda state, session, delivery: google.apply(session, delivery),
    answer=_outcome_answer,
    hand_off=signature_messages,
)


@router.post("/webhooks/google", summary="Google Workspace webhook (e-signatures, calendar)",
             operation_id="google_webhook",
             **answers(WebhookReceipt, 401, 404, public=True, body=HMAC_EVENT,
                       headers=[hmac_signature("X-Google-Signature")]))
async def google_webhook(request: Request, state: State, background: BackgroundTasks):
    """signature.completed (with the signer's evidence: the request, the consent or letter it concerns, turns
    signed), signature.declined, calendar.event.updated (acknowledged). Signed with X-Google-Signature."""
    return await receive(GOOGLE, request, state, background)
