"""Inbound Stripe webhooks (spec §13.1): POST /v1/webhooks/stripe.

The signature is checked over the raw bytes, with the SDK, before the body is parsed; a bad or stale one is a
400 and nothing is recorded, and so is a signed body that is not a Stripe event we can read and store
(domain/webhook_body.py). A verified event is applied once per event id in one transaction with its
effect (domain/webhook_stripe) and with the outbox messages it causes (the invoice's workflow told, the firm
mailed of a refund due); they are sent after the commit, or by the outbox relay, so Stripe never needs to
deliver an event again for our sake.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request

from api import envelope
from api.deps import State
from domain.errors import FieldError, ValidationFailed
from domain.user.service import firm_decider_emails
from domain.webhook_stripe.service import RefundDue, handle_event
from integrations.payments import InvalidWebhook
from orchestration import invoice as invoice_workflow
from orchestration import outbox
from orchestration.mail import mail
from orchestration.message import OutboxMessage

router = APIRouter(tags=["webhooks"])
log = logging.getLogger("taxpractice.webhook_stripe")


@router.post("/webhooks/stripe", summary="Receive a Stripe event")
async def stripe_webhook(request: Request, state: State):
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
        messages = []
        # A repeat of an event changes nothing: its messages were committed with its first delivery.
        if result.signal and result.invoice_id and not result.duplicate:
            messages.append(invoice_workflow.event(result.invoice_id, result.signal, event_id=result.event_id,
                                                   message=result.failure_message))
        if result.refund_due is not None and not result.duplicate:
            messages += await _refund_due_mails(session, result.refund_due)
        pending = [await outbox.add(session, message) for message in messages]
    await state.outbox.send(*pending)
    return envelope.one({"event_id": result.event_id, "duplicate": result.duplicate, "outcome": result.outcome})


async def _refund_due_mails(session, refund: RefundDue) -> list[OutboxMessage]:
    """The refund is on record (the audit row); these mails to the firm's admins and EA/CPAs are the notice. No
    invoice workflow runs for a void or draft invoice to send them."""
    return [mail(address, f"Refund due: invoice {refund.invoice_number} received {refund.amount} it does not bill",
                 f"A card payment was recorded on invoice {refund.invoice_number}, but {refund.reason}: "
                 f"{refund.amount} is owed back to the client. Refund it in Stripe.\n",
                 about=f"invoice:{refund.invoice_number}")
            for address in await firm_decider_emails(session, refund.firm_id)]
