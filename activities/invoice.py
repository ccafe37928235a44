"""Activities of a sent invoice: the Stripe payment link, marking it sent, and the mails of its life.

Every one is idempotent. The payment link is created with an idempotency key derived from the invoice and
what it bills, so a retried attempt gets the same Checkout Session back from Stripe. One-time steps (sent,
mailed, overdue, each reminder, escalation) insert a history row guarded by a unique index; a step whose
row exists is not repeated. A mail is sent before its row commits: a crash in between sends it twice, never
zero times (at-least-once, the right side to err on for a reminder).

Every write goes through the invoice service's workflow steps (`mark_sent`, `mark_overdue`, `record_step`) under
`ServiceContext.for_system`; a Stripe refusal is a `ProviderRejected`, which ends the activity non-retryable as
`PaymentProviderRejected` (activities/collect.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.client.models import Client
from domain.context import ServiceContext
from domain.errors import BusinessRuleViolation
from domain.firm.models import Firm
from domain.invoice import service as invoices
from domain.invoice.models import Invoice
from domain.money import to_cents
from domain.user.service import firm_decider_emails
from integrations.notify import Notification, Recipient
from integrations.payments import CheckoutLineItem
from integrations.providers import Notifications, Payments
from orchestration.invoice import SendResult

# The system actor's source, as the audit log names it.
SOURCE = "invoice_workflow"


def _not_sendable(reason: str) -> BusinessRuleViolation:
    """Refused for good: activities/collect.py carries it to the API as this 422."""
    return BusinessRuleViolation(f"The invoice cannot be sent: {reason}", code="invoice_not_sendable")


class InvoiceRef(BaseModel):
    invoice_id: uuid.UUID


class PaymentLink(BaseModel):
    session_id: str
    url: str
    content_hash: str


class MarkSentInput(BaseModel):
    invoice_id: uuid.UUID
    link: PaymentLink
    sent_at: datetime
    due_days: int


class StepInput(BaseModel):
    invoice_id: uuid.UUID
    step: str  # overdue | reminder_7 | reminder_14 | reminder_30 | escalated


class PaymentFailedInput(BaseModel):
    invoice_id: uuid.UUID
    message: str | None = None


def _money(amount) -> str:
    return f"${amount:,.2f}"


def _send_result(invoice: Invoice) -> SendResult:
    return SendResult(invoice_id=invoice.id, invoice_number=invoice.invoice_number, status=invoice.status,
                      sent_at=invoice.sent_at, payment_link=invoice.payment_link, due_date=invoice.due_date)


class InvoiceActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], payments: Payments,
                 notifier: Notifications, currency: str, portal_base_url: str):
        self.sessionmaker, self.payments, self.notifier = sessionmaker, payments, notifier
        self.currency, self.portal_base_url = currency, portal_base_url.rstrip("/")

    async def _load(self, session, invoice_id: uuid.UUID) -> tuple[Invoice, Client, Firm]:
        invoice = await session.get(Invoice, invoice_id)
        if invoice is None:
            raise _not_sendable(f"invoice {invoice_id} does not exist")
        return invoice, await session.get(Client, invoice.client_id), await session.get(Firm, invoice.firm_id)

    async def _system(self, session: AsyncSession, invoice_id: uuid.UUID) -> ServiceContext:
        """The system actor bound to the invoice's firm (the workflow's input names the invoice only)."""
        firm_id = await session.scalar(select(Invoice.firm_id).where(Invoice.id == invoice_id))
        if firm_id is None:
            raise _not_sendable(f"invoice {invoice_id} does not exist")
        return ServiceContext.for_system(session, firm_id, SOURCE)

    @activity.defn(name="invoice.create_payment_link")
    async def create_payment_link(self, data: InvoiceRef) -> PaymentLink:
        async with self.sessionmaker() as session:
            invoice, client, _ = await self._load(session, data.invoice_id)
        if invoice.status != "draft":
            if invoice.stripe_checkout_session_id:  # sent by an earlier attempt
                return PaymentLink(session_id=invoice.stripe_checkout_session_id, url=invoice.payment_link,
                                   content_hash=invoices.content_hash(invoice))
            raise _not_sendable(f"invoice is {invoice.status}")
        digest = invoices.content_hash(invoice)
        items = [CheckoutLineItem(name=item["description"], unit_amount_cents=to_cents(item["unit_price"]),
                                  quantity=item["quantity"]) for item in invoice.line_items]
        portal = f"{self.portal_base_url}/invoices/{invoice.id}"
        # Unavailable: retried by Temporal with backoff, same key. Rejected: ends the send (activities/collect.py).
        link = await self.payments.create_checkout(
            invoice_id=str(invoice.id), invoice_number=invoice.invoice_number, items=items,
            currency=self.currency, customer_email=client.email, success_url=f"{portal}?payment=success",
            cancel_url=f"{portal}?payment=cancelled",
            # The same invoice billing the same lines always asks Stripe with the same key.
            idempotency_key=f"invoice:{invoice.id}:checkout:{digest}")
        return PaymentLink(session_id=link.session_id, url=link.url, content_hash=digest)

    @activity.defn(name="invoice.mark_sent")
    async def mark_sent(self, data: MarkSentInput) -> SendResult | None:
        """Draft → sent with its payment link. None when the draft was edited after the link was made (the
        workflow then makes a link for the new content)."""
        async with self.sessionmaker.begin() as session:
            try:
                invoice = await invoices.mark_sent(
                    await self._system(session, data.invoice_id), data.invoice_id,
                    checkout_session_id=data.link.session_id, payment_link=data.link.url,
                    link_content_hash=data.link.content_hash, sent_at=data.sent_at, due_days=data.due_days)
            except BusinessRuleViolation as refused:
                raise _not_sendable(refused.detail) from None
            return None if invoice is None else _send_result(invoice)

    async def _once(self, invoice_id: uuid.UUID, event: str) -> bool:
        async with self.sessionmaker() as session:
            return await invoices.step_done(await self._system(session, invoice_id), invoice_id, event)

    async def _record_once(self, invoice: Invoice, event: str, before: str, details: dict | None = None) -> None:
        async with self.sessionmaker.begin() as session:
            await invoices.record_step(await self._system(session, invoice.id), invoice, event, before, details)

    @activity.defn(name="invoice.mail_invoice")
    async def mail_invoice(self, data: InvoiceRef) -> None:
        if await self._once(data.invoice_id, "mailed"):
            return
        async with self.sessionmaker() as session:
            invoice, client, firm = await self._load(session, data.invoice_id)
        lines = "\n".join(f"  {item['description']} × {item['quantity']}: ${item['amount']}"
                          for item in invoice.line_items)
        await self.notifier.send(Recipient(email=client.email), Notification(
            subject=f"Invoice {invoice.invoice_number} from {firm.name}",
            text=(f"Dear {client.name},\n\n{firm.name} has sent you invoice {invoice.invoice_number}.\n\n{lines}\n\n"
                  f"Total due: {_money(invoice.balance_due)} by {invoice.due_date.isoformat()}.\n\n"
                  f"Pay online: {invoice.payment_link}\n"),
            sms_text=f"{firm.name}: invoice {invoice.invoice_number}, {_money(invoice.balance_due)} due "
                     f"{invoice.due_date.isoformat()}. Pay: {invoice.payment_link}"))
        await self._record_once(invoice, "mailed", invoice.status, {"to": "client"})

    @activity.defn(name="invoice.apply_step")
    async def apply_step(self, data: StepInput) -> str:
        """Overdue, a reminder or the escalation; nothing for an invoice that is paid or void. Returns the
        invoice's status afterwards."""
        if data.step == "overdue":
            async with self.sessionmaker.begin() as session:
                return await invoices.mark_overdue(await self._system(session, data.invoice_id), data.invoice_id,
                                                   activity.info().current_attempt_scheduled_time)
        async with self.sessionmaker() as session:
            invoice, client, firm = await self._load(session, data.invoice_id)
        if invoice.status not in invoices.OPEN_STATUSES or await self._once(invoice.id, data.step):
            return invoice.status
        if data.step == "escalated":
            await self._escalate(invoice, client, firm)
        else:
            days = data.step.removeprefix("reminder_")
            await self.notifier.send(Recipient(email=client.email, phone=client.phone), Notification(
                subject=f"Reminder: invoice {invoice.invoice_number} is {days} days past due",
                text=(f"Dear {client.name},\n\nInvoice {invoice.invoice_number} from {firm.name} was due on "
                      f"{invoice.due_date.isoformat()}; {_money(invoice.balance_due)} is still open.\n\n"
                      f"Pay online: {invoice.payment_link}\n"),
                sms_text=f"{firm.name}: invoice {invoice.invoice_number} is {days} days past due "
                         f"({_money(invoice.balance_due)}). Pay: {invoice.payment_link}"), channels=("email",))
        await self._record_once(invoice, data.step, invoice.status)
        return invoice.status

    async def _escalate(self, invoice: Invoice, client: Client, firm: Firm) -> None:
        """45 days past due: the firm's admins and EA/CPAs decide what happens next."""
        async with self.sessionmaker() as session:
            staff = await firm_decider_emails(session, invoice.firm_id)
        for address in staff:
            await self.notifier.send(Recipient(email=address), Notification(
                subject=f"Escalation: invoice {invoice.invoice_number} is 45 days past due",
                text=(f"Invoice {invoice.invoice_number} to {client.name} was due on {invoice.due_date.isoformat()}; "
                      f"{_money(invoice.balance_due)} of {_money(invoice.total)} is unpaid after three reminders.\n"),
                sms_text=f"Invoice {invoice.invoice_number} is 45 days past due"))

    @activity.defn(name="invoice.notify_payment_failed")
    async def notify_payment_failed(self, data: PaymentFailedInput) -> None:
        async with self.sessionmaker() as session:
            invoice, client, firm = await self._load(session, data.invoice_id)
        if invoice.status not in invoices.OPEN_STATUSES:
            return  # paid meanwhile (events out of order) or voided: nothing to tell
        await self.notifier.send(Recipient(email=client.email), Notification(
            subject=f"Your payment for invoice {invoice.invoice_number} did not go through",
            text=(f"Dear {client.name},\n\nYour card payment for invoice {invoice.invoice_number} from {firm.name} "
                  f"failed: {data.message or 'the payment was declined'}.\n\n"
                  f"You can try again with another card: {invoice.payment_link}\n"),
            sms_text=f"{firm.name}: your payment for invoice {invoice.invoice_number} failed. "
                     f"Try again: {invoice.payment_link}"))

    @activity.defn(name="invoice.current_status")
    async def current_status(self, data: InvoiceRef) -> str:
        async with self.sessionmaker() as session:
            return await session.scalar(select(Invoice.status).where(Invoice.id == data.invoice_id))

    @activity.defn(name="invoice.expire_payment_link")
    async def expire_payment_link(self, data: InvoiceRef) -> None:
        """A voided invoice's payment page is closed, so nobody pays it by mistake."""
        async with self.sessionmaker() as session:
            session_id = await session.scalar(select(Invoice.stripe_checkout_session_id)
                                              .where(Invoice.id == data.invoice_id))
        if not session_id:
            return
        await self.payments.expire_checkout(session_id, idempotency_key=f"invoice:{data.invoice_id}:expire")
