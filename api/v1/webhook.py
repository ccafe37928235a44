"""Inbound webhooks (spec §13.1), every provider through one pattern (`receive`; docs/webhook.md):

1. verify the signature over the raw bytes, before anything is parsed: a bad one is refused (Stripe: 400,
   HMAC providers: 401) and nothing is recorded;
2. read the signed body (domain/webhook_body.py): one we cannot read or store is a 400, nothing recorded;
3. record the event once in the ledger and apply its effect in the same transaction (domain/webhook/ledger.py):
   a repeat, even a concurrent one, answers as a duplicate and changes nothing;
4. after the commit, hand the work to the entity's workflow: one named call per provider
   (`signal_invoice_workflow`, `start_smartvault_import`);
5. answer, in the provider's own shape.
A provider is its verification, its effect (domain/webhook/<source>.py), its handoff and its answer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api import envelope
from api.deps import State
from api.state import AppState
from domain.errors import FieldError, ServiceUnavailable, Unauthorized, ValidationFailed
from domain.user.service import firm_decider_emails
from domain.webhook import smartvault, stripe, sureprep
from domain.webhook.event import parse_event
from domain.webhook.ledger import Applied, Delivery, Receipt, receive as record_and_apply
from domain.webhook_body import parse_json
from integrations.payments import InvalidWebhook
from integrations.webhook_signature import verify as verify_hmac
from workflows import ids, queues
from workflows.invoice import InvoiceEvent, signal_invoice

router = APIRouter(tags=["webhooks"])
log = logging.getLogger("taxpractice.webhook")


@dataclass(frozen=True)
class Provider:
    # The raw body and headers → the verified, parsed delivery; raises the refusal (nothing is recorded).
    verify: Callable[[AppState, bytes, Any], Delivery]
    # The effect, in the ledger's transaction.
    apply: Callable[[AppState, AsyncSession, Delivery], Awaitable[Applied]]
    # The answer's body.
    answer: Callable[[Receipt], dict]
    # After the commit: what the entity's workflow must hear (and any notice); may answer 503 to be delivered again.
    hand_off: Callable[[AppState, Delivery, Receipt, BackgroundTasks], Awaitable[None]] | None = None


async def receive(provider: Provider, request: Request, state: AppState, background: BackgroundTasks) -> dict:
    delivery = provider.verify(state, await request.body(), request.headers)
    async with state.sessionmaker.begin() as session:
        receipt = await record_and_apply(session, delivery, lambda s: provider.apply(state, s, delivery))
    if provider.hand_off is not None:
        await provider.hand_off(state, delivery, receipt, background)
    return provider.answer(receipt)


# ---- Stripe ----------------------------------------------------------------------------------------------------
# Verified with the SDK. A payment is recorded in the event's transaction; the invoice's workflow is then told. If
# that signal cannot be sent the answer is 503, so Stripe delivers again: the repeat changes nothing in Postgres
# and re-sends the signal, which the workflow ignores if it already had it.

def _verify_stripe(state: AppState, body: bytes, headers) -> Delivery:
    try:
        event = state.payments.verify_webhook(body, headers.get("stripe-signature"))
    except InvalidWebhook as exc:
        raise ValidationFailed("The Stripe-Signature header does not verify this body",
                               [FieldError("Stripe-Signature", "invalid_signature", str(exc))]) from None
    return stripe.delivery(event)


async def signal_invoice_workflow(state: AppState, notice: stripe.InvoiceNotice) -> None:
    """The handoff to the invoice's workflow; 503 when Temporal cannot be told (the event stays recorded)."""
    try:
        await signal_invoice(await state.temporal(), notice.invoice_id,
                             InvoiceEvent(kind=notice.kind, event_id=notice.event_id, message=notice.message))
    except Exception:
        log.warning("event %s recorded; its invoice workflow could not be told", notice.event_id, exc_info=True)
        raise ServiceUnavailable("The event is recorded but could not be passed on; deliver it again") from None


async def _after_stripe(state: AppState, delivery: Delivery, receipt: Receipt, background: BackgroundTasks) -> None:
    notice = stripe.invoice_notice(receipt, delivery.payload)
    if notice is not None:
        await signal_invoice_workflow(state, notice)
    if receipt.follow_up is not None:
        background.add_task(_tell_firm_of_refund, state, receipt.follow_up)


async def _tell_firm_of_refund(state: AppState, refund: stripe.RefundDue) -> None:
    """After the response: the refund is on record (the audit row); this mail is the notice. No invoice workflow
    runs for a void or draft invoice to send it, and a lost mail must not have Stripe deliver the event again."""
    try:
        async with state.sessionmaker() as session:
            recipients = await firm_decider_emails(session, refund.firm_id)
        for address in recipients:
            await state.mailer.send(
                address, f"Refund due: invoice {refund.invoice_number} received {refund.amount} it does not bill",
                f"A card payment was recorded on invoice {refund.invoice_number}, but {refund.reason}: "
                f"{refund.amount} is owed back to the client. Refund it in Stripe.\n")
    except Exception:  # noqa: BLE001 (the audit row stands; only the notice is lost)
        log.exception("refund notice for invoice %s not sent", refund.invoice_number)


STRIPE = Provider(
    verify=_verify_stripe,
    apply=lambda state, session, delivery: stripe.apply(session, delivery.payload, state.settings.stripe_currency),
    answer=lambda r: envelope.one({"event_id": r.event_id, "duplicate": r.duplicate, "outcome": r.outcome}),
    hand_off=_after_stripe,
)


@router.post("/webhooks/stripe", summary="Receive a Stripe event")
async def stripe_webhook(request: Request, state: State, background: BackgroundTasks):
    """Handles payment_intent.succeeded, checkout.session.completed (recording the payment of the invoice in
    `metadata.invoice_id`) and payment_intent.payment_failed (recorded; the client is told). Other event
    types are acknowledged and ignored."""
    return await receive(STRIPE, request, state, background)


# ---- SurePrep and SmartVault -----------------------------------------------------------------------------------
# Signed with an HMAC over the raw body (401 without a valid one). Every authenticated event is answered 200 with
# its outcome — a replay `duplicate`, a refused event `rejected`/`stale` with the reason — so the sender stops
# retrying what can never apply.

def _hmac_verifier(source: str, secret_setting: str, header: str) -> Callable[[AppState, bytes, Any], Delivery]:
    def verify(state: AppState, body: bytes, headers) -> Delivery:
        if not verify_hmac(getattr(state.settings, secret_setting), headers.get(header), body):
            raise Unauthorized("Invalid or missing webhook signature")
        return parse_event(source, parse_json(body))
    return verify


def _outcome_answer(receipt: Receipt) -> dict:
    if receipt.duplicate:
        return {"received": True, "outcome": "duplicate", "reason": None}
    return {"received": True, "outcome": receipt.outcome, "reason": receipt.reason}


SUREPREP = Provider(
    verify=_hmac_verifier(sureprep.SOURCE, "sureprep_webhook_secret", "x-sureprep-signature"),
    apply=lambda state, session, delivery: sureprep.apply(
        session, delivery, Decimal(str(state.settings.extraction_review_threshold))),
    answer=_outcome_answer,
)


@router.post("/webhooks/sureprep", summary="SurePrep webhook")
async def sureprep_webhook(request: Request, state: State, background: BackgroundTasks):
    """binder.submitted, binder.processing_complete, binder.verification_complete, document.uploaded,
    extraction.ready (the fields land on the document's extraction). Signed with X-SurePrep-Signature."""
    return await receive(SUREPREP, request, state, background)


async def start_smartvault_import(state: AppState, job: dict) -> None:
    """The handoff to a SmartVaultImport workflow, one per SmartVault document."""
    from activities.document import SmartVaultImportInput

    data = SmartVaultImportInput(**job)
    client = await state.temporal()
    try:
        await client.start_workflow("SmartVaultImport", data, task_queue=queues.DOCUMENTS,
                                    id=ids.smartvault_import(data.account_id, data.document_id),
                                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
    except WorkflowAlreadyStartedError:
        pass  # the same SmartVault document, announced again: imported once


async def _after_smartvault(state: AppState, delivery: Delivery, receipt: Receipt,
                            background: BackgroundTasks) -> None:
    if receipt.follow_up is not None:
        await start_smartvault_import(state, receipt.follow_up)


SMARTVAULT = Provider(
    verify=_hmac_verifier(smartvault.SOURCE, "smartvault_webhook_secret", "x-smartvault-signature"),
    apply=lambda state, session, delivery: smartvault.apply(session, delivery),
    answer=_outcome_answer,
    hand_off=_after_smartvault,
)


@router.post("/webhooks/smartvault", summary="SmartVault webhook")
async def smartvault_webhook(request: Request, state: State, background: BackgroundTasks):
    """document.uploaded imports the file into the pending (upload-first) queue; folder.created is
    acknowledged. Signed with X-SmartVault-Signature."""
    return await receive(SMARTVAULT, request, state, background)
