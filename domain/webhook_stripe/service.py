"""Apply a verified Stripe event exactly once.

The event row is inserted first (`ON CONFLICT DO NOTHING`) in the transaction that applies the event. A second
delivery of the same event, even a concurrent one, waits on the primary key until the first commits and then
finds the row: it changes nothing. If the first rolls back, the second applies the event instead.

Events may come in any order. A PaymentIntent's payment is recorded by whichever of
`payment_intent.succeeded` / `checkout.session.completed` comes first (see `apply_payment`); a
`payment_intent.payment_failed` that arrives after the success is kept as a failed attempt and changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy.dialects.postgresql import insert

from domain.context import audit_entry
from domain.invoice import service as invoices
from domain.money import MAX_AMOUNT, ZERO, from_cents
from domain.webhook_body import unix_time
from domain.webhook_stripe.models import StripeEvent

PAYMENT_TYPES = ("payment_intent.succeeded", "checkout.session.completed")
FAILURE_TYPE = "payment_intent.payment_failed"


@dataclass
class EventResult:
    event_id: str
    duplicate: bool
    outcome: str
    invoice_id: uuid.UUID | None = None
    # What the invoice's workflow must hear about: "payment_recorded", "payment_failed" or None.
    signal: str | None = None
    failure_message: str | None = None
    # Money received that the invoice does not bill (paid on a void or draft invoice, or beyond its total): the
    # firm owes it back and is told (api/v1/webhook_stripe.py).
    refund_due: RefundDue | None = None


@dataclass(frozen=True)
class RefundDue:
    firm_id: uuid.UUID
    invoice_number: str
    amount: Decimal
    reason: str


def _invoice_id(obj: dict) -> uuid.UUID | None:
    metadata = obj.get("metadata")
    # Stripe's metadata is an object; anything else names no invoice.
    raw = metadata.get("invoice_id") if isinstance(metadata, dict) else None
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _stripe_id(value) -> str | None:
    """A Stripe object id (pi_…) that fits the columns keeping it (255 characters), else None."""
    return value if isinstance(value, str) and 0 < len(value) <= 255 else None


def _failure_message(obj: dict) -> str | None:
    """Why Stripe declined (`last_payment_error.message`); None when it is missing or not that shape."""
    error = obj.get("last_payment_error")
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else None


SIGNAL_OF_OUTCOME = {"payment_recorded": "payment_recorded", "payment_already_recorded": "payment_recorded",
                     "payment_failed": "payment_failed"}


async def handle_event(session, event: dict, currency: str) -> EventResult:
    """Record the event once and apply it; `currency` is the one our payment links bill in (STRIPE_CURRENCY)."""
    obj = event["data"]["object"]
    inserted = (await session.execute(insert(StripeEvent).values(
        id=event["id"], type=event["type"], object_id=str(obj.get("id") or "")[:255] or None,
        invoice_id=_invoice_id(obj), outcome="processing", payload=event, received_at=datetime.now(timezone.utc),
        stripe_created_at=unix_time(event.get("created")),
    ).on_conflict_do_nothing(index_elements=[StripeEvent.id]).returning(StripeEvent.id))).scalar_one_or_none()
    if inserted is None:
        row = await session.get(StripeEvent, event["id"])
        # The workflow is told again (it ignores event ids it has seen): the first delivery may have committed
        # and then failed to reach it.
        return EventResult(event["id"], True, row.outcome, row.invoice_id, SIGNAL_OF_OUTCOME.get(row.outcome),
                           _failure_message(obj))
    result = await _apply(session, event, obj, currency)
    await session.execute(StripeEvent.__table__.update().where(StripeEvent.id == event["id"])
                          .values(outcome=result.outcome, invoice_id=result.invoice_id))
    return result


async def _apply(session, event: dict, obj: dict, currency: str) -> EventResult:
    kind, event_id = event["type"], event["id"]
    if kind not in PAYMENT_TYPES and kind != FAILURE_TYPE:
        return EventResult(event_id, False, "ignored_type")
    invoice_id = _invoice_id(obj)
    if invoice_id is None:
        return EventResult(event_id, False, "ignored_no_invoice")
    invoice = await invoices.lock_invoice(session, invoice_id)
    if invoice is None:
        return EventResult(event_id, False, "unknown_invoice", None)

    if kind == "checkout.session.completed":
        if obj.get("payment_status") != "paid" or not obj.get("payment_intent"):
            return EventResult(event_id, False, "ignored_unpaid_session", invoice.id)
        intent_id, cents = _stripe_id(obj["payment_intent"]), _int(obj.get("amount_total"))
    else:
        intent_id = _stripe_id(obj.get("id"))
        cents = _int(obj.get("amount_received")) if kind == "payment_intent.succeeded" else _int(obj.get("amount"))
        if kind == "payment_intent.succeeded" and not cents:
            cents = _int(obj.get("amount"))
    if intent_id is None or not cents:  # Stripe charges at least 50 cents: 0 (or none) is no payment
        return EventResult(event_id, False, "ignored_malformed", invoice.id)
    charged_in = obj.get("currency")
    if charged_in is not None and str(charged_in).lower() != currency.lower():
        # Our links bill in one currency: counting euro cents as dollars would misstate what was paid. The event
        # is kept for the firm to reconcile by hand, and audited so it shows in the firm's audit log.
        _audit(session, invoice, "invoice.stripe.currency_mismatch",
               {"event_id": event_id, "currency": str(charged_in)[:10], "amount_cents": cents})
        return EventResult(event_id, False, "ignored_currency_mismatch", invoice.id)
    amount = from_cents(cents)
    # Stripe charges at most 999,999.99, far below NUMERIC(14,2). An amount the payment row cannot hold, or one
    # that would carry amount_paid (the sum of completed payments) past it, cannot be a real charge: the event
    # is kept with this outcome, as failing it would have Stripe deliver it again for days.
    if amount > (MAX_AMOUNT if kind == FAILURE_TYPE else MAX_AMOUNT - invoice.amount_paid):
        return EventResult(event_id, False, "ignored_amount_out_of_range", invoice.id)

    _audit(session, invoice, f"invoice.stripe.{kind}",
           {"event_id": event_id, "payment_intent": intent_id, "amount_cents": cents})
    if kind == FAILURE_TYPE:
        message = _failure_message(obj)
        await invoices.record_failed_payment(session, invoice, amount=amount,
                                             stripe_payment_intent_id=intent_id, stripe_event_id=event_id,
                                             message=message)
        return EventResult(event_id, False, "payment_failed", invoice.id, "payment_failed", message)

    outcome = await invoices.apply_payment(session, invoice, amount=amount, payment_method="credit_card",
                                           source="stripe", stripe_payment_intent_id=intent_id,
                                           stripe_event_id=event_id)
    if outcome.payment is None:
        return EventResult(event_id, False, "payment_already_recorded", invoice.id, "payment_recorded")
    return EventResult(event_id, False, "payment_recorded", invoice.id, "payment_recorded",
                       refund_due=_refund_due(session, invoice, outcome.status_before, amount, event_id))


def _refund_due(session, invoice, status_before: str, amount: Decimal, event_id: str) -> RefundDue | None:
    """Money that moved is recorded whatever the invoice says (docs/invoice.md); what it does not bill is owed
    back. Audited in the event's transaction, so the record does not depend on the notice mail."""
    if status_before in ("void", "draft"):
        refund = RefundDue(invoice.firm_id, invoice.invoice_number, amount, f"the invoice was {status_before}")
    elif invoice.balance_due < ZERO:
        # Only this payment's share: an earlier overpayment was owed back (and told) when it came.
        refund = RefundDue(invoice.firm_id, invoice.invoice_number, min(amount, -invoice.balance_due),
                           "the payments exceed the invoice's total")
    else:
        return None
    _audit(session, invoice, "invoice.refund_due",
           {"event_id": event_id, "amount": str(refund.amount), "reason": refund.reason})
    return refund


def _audit(session, invoice, action: str, details: dict) -> None:
    """An audit row of the system (the webhook has no user) about the invoice an event concerns."""
    session.add(audit_entry(invoice.firm_id, None, "system", action, "invoice", invoice.id,
                            client_id=invoice.client_id, details=details))
