"""Inbound Stripe webhooks (spec §13.1): POST /v1/webhooks/stripe.

The signature is checked over the raw bytes, with the SDK, before the body is parsed; a bad or stale one is a
400 and nothing is recorded, and so is a signed body that is not a Stripe event we can read and store
(domain/webhook_body.py). A verified event is applied once per event id in one transaction with its
effect (domain/webhook_stripe), then the invoice's workflow is told. If that signal cannot be sent the answer
is 503, so Stripe delivers again: the repeat changes nothing in Postgres and re-sends the signal, which the
workflow ignores if it already had it.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, BackgroundTasks, Request

from api import envelope
from api.deps import State
from domain.errors import FieldError, ServiceUnavailable, ValidationFailed
from domain.user.service import firm_decider_emails
from domain.webhook_stripe.service import RefundDue, handle_event
from integrations.payments import InvalidWebhook
from workflows.invoice import InvoiceEvent, signal_invoice

router = APIRouter(tags=["webhooks"])
log = logging.getLogger("taxpractice.webhook_stripe")


@router.post("/webhooks/stripe", summary="Receive a Stripe event")
async def stripe_webhook(request: Request, state: State, background: BackgroundTasks):
    """Handles payment_intent.succeeded, checkout.session.completed (recording the payment of the invoice in
    `metadata.invoice_id`) and payment_intent.payment_failed (recorded; the client is told). Other event
    types are acknowledged and ignored."""
    payload = await request.body()
    try:
        event = state.payments.verify_webhook(payload, request.headers.get("stripe-signature"))
    except InvalidWebhook as exc:
        raise ValidationFailed("The Stripe-Signature header does not verify this body",
                               [FieldError("Stripe-Signature", "invalid_signature", str(exc))]) from None
    async with state.sessionmaker.begin() as session:
        result = await handle_event(session, event, state.settings.stripe_currency)
    if result.signal and result.invoice_id:
        try:
            await signal_invoice(await state.temporal(), result.invoice_id,
                                 InvoiceEvent(kind=result.signal, event_id=result.event_id,
                                              message=result.failure_message))
        except Exception:
            log.warning("event %s recorded; its invoice workflow could not be told", result.event_id, exc_info=True)
            raise ServiceUnavailable("The event is recorded but could not be passed on; deliver it again") from None
    if result.refund_due is not None:
        background.add_task(_tell_firm_of_refund, state, result.refund_due)
    return envelope.one({"event_id": result.event_id, "duplicate": result.duplicate, "outcome": result.outcome})


async def _tell_firm_of_refund(state, refund: RefundDue) -> None:
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
