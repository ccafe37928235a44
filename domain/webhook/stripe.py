"""Stripe's effect: a verified event applied once (domain/webhook/ledger.py) in the transaction that records it.

Events may come in any order. A PaymentIntent's payment is recorded by whichever of
`payment_intent.succeeded` / `checkout.session.completed` comes first (see `apply_payment`); a
`payment_intent.payment_failed` that arrives after the success is kept as a failed attempt and changes nothing.
The invoice's workflow is then told (`invoice_notice`), by the router, once the transaction has committed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from domain.context import ServiceContext
from domain.invoice import service as invoices
from domain.money import MAX_AMOUNT, ZERO, from_cents
from domain.webhook.ledger import Applied, Delivery, Receipt
from domain.webhook_body import unix_time

SOURCE = "stripe"
PAYMENT_TYPES = ("payment_intent.succeeded", "checkout.session.completed")
FAILURE_TYPE = "payment_intent.payment_failed"


def delivery(event: dict) -> Delivery:
    """The ledger's view of an event the SDK verified (integrations/payments.py checked its shape)."""
    return Delivery(SOURCE, event["id"], event["type"], unix_time(event.get("created")), event, "stripe_sdk")


@dataclass(frozen=True)
class InvoiceNotice:
    """What the invoice's workflow must hear about an event: a payment recorded, or one that failed."""

    invoice_id: uuid.UUID
    kind: str  # payment_recorded | payment_failed
    event_id: str
    message: str | None  # why Stripe declined, for payment_failed


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


# The workflow is told on every delivery, a duplicate too (it ignores event ids it has seen): the first delivery
# may have committed and then failed to reach it.
SIGNAL_OF_OUTCOME = {"payment_recorded": "payment_recorded", "payment_already_recorded": "payment_recorded",
                     "payment_failed": "payment_failed"}


def invoice_notice(receipt: Receipt, event: dict) -> InvoiceNotice | None:
    kind = SIGNAL_OF_OUTCOME.get(receipt.outcome)
    if kind is None or receipt.entity_id is None:
        return None
    message = _failure_message(event["data"]["object"]) if kind == "payment_failed" else None
    return InvoiceNotice(receipt.entity_id, kind, receipt.event_id, message)


async def apply(session, event: dict, currency: str) -> Applied[RefundDue]:
    """Apply the event; `currency` is the one our payment links bill in (STRIPE_CURRENCY). The follow-up is money
    received that the invoice does not bill, which the firm owes back and is told of."""
    obj = event["data"]["object"]
    kind, event_id = event["type"], event["id"]
    if kind not in PAYMENT_TYPES and kind != FAILURE_TYPE:
        return Applied("ignored_type")
    invoice_id = _invoice_id(obj)
    if invoice_id is None:
        return Applied("ignored_no_invoice")
    invoice = await invoices.lock_invoice(session, invoice_id)
    if invoice is None:
        return Applied("unknown_invoice")

    def about_invoice(outcome: str, refund_due: RefundDue | None = None) -> Applied[RefundDue]:
        return Applied(outcome, firm_id=invoice.firm_id, entity_type="invoice", entity_id=invoice.id,
                       follow_up=refund_due)

    if kind == "checkout.session.completed":
        if obj.get("payment_status") != "paid" or not obj.get("payment_intent"):
            return about_invoice("ignored_unpaid_session")
        intent_id, cents = _stripe_id(obj["payment_intent"]), _int(obj.get("amount_total"))
    else:
        intent_id = _stripe_id(obj.get("id"))
        cents = _int(obj.get("amount_received")) if kind == "payment_intent.succeeded" else _int(obj.get("amount"))
        if kind == "payment_intent.succeeded" and not cents:
            cents = _int(obj.get("amount"))
    if intent_id is None or not cents:  # Stripe charges at least 50 cents: 0 (or none) is no payment
        return about_invoice("ignored_malformed")
    charged_in = obj.get("currency")
    if charged_in is not None and str(charged_in).lower() != currency.lower():
        # Our links bill in one currency: counting euro cents as dollars would misstate what was paid. The event
        # is kept for the firm to reconcile by hand, and audited so it shows in the firm's audit log.
        await _audit(session, invoice, "invoice.stripe.currency_mismatch",
               {"event_id": event_id, "currency": str(charged_in)[:10], "amount_cents": cents})
        return about_invoice("ignored_currency_mismatch")
    amount = from_cents(cents)
    # Stripe charges at most 999,999.99, far below NUMERIC(14,2). An amount the payment row cannot hold, or one
    # that would carry amount_paid (the sum of completed payments) past it, cannot be a real charge: the event
    # is kept with this outcome, as failing it would have Stripe deliver it again for days.
    if amount > (MAX_AMOUNT if kind == FAILURE_TYPE else MAX_AMOUNT - invoice.amount_paid):
        return about_invoice("ignored_amount_out_of_range")

    # The audit row is written after the payment: its insert takes the firm's audit chain head (one row per
    # firm, held to the commit: migration 0012_audit_chain), so every other event of the firm waits from there
    # on. Written last, it is flushed with the commit and the wait is the commit's, not the whole effect's.
    received = {"event_id": event_id, "payment_intent": intent_id, "amount_cents": cents}
    if kind == FAILURE_TYPE:
        await invoices.record_failed_payment(session, invoice, amount=amount,
                                             stripe_payment_intent_id=intent_id, stripe_event_id=event_id,
                                             message=_failure_message(obj))
        await _audit(session, invoice, f"invoice.stripe.{kind}", received)
        return about_invoice("payment_failed")

    outcome = await invoices.apply_payment(session, invoice, amount=amount, payment_method="credit_card",
                                           source="stripe", stripe_payment_intent_id=intent_id,
                                           stripe_event_id=event_id)
    await _audit(session, invoice, f"invoice.stripe.{kind}", received)
    if outcome.payment is None:
        return about_invoice("payment_already_recorded")
    return about_invoice("payment_recorded",
                         await _refund_due(session, invoice, outcome.status_before, amount, event_id))


async def _refund_due(session, invoice, status_before: str, amount: Decimal, event_id: str) -> RefundDue | None:
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
    await _audit(session, invoice, "invoice.refund_due",
           {"event_id": event_id, "amount": str(refund.amount), "reason": refund.reason})
    return refund


async def _audit(session, invoice, action: str, details: dict) -> None:
    """An audit row of the system actor (the webhook has no user) about the invoice an event concerns."""
    await ServiceContext.for_system(session, invoice.firm_id, SOURCE).audit(
        action, "invoice", invoice.id, client_id=invoice.client_id, details=details)
