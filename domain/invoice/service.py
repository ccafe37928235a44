"""Invoice rules (spec §9): drafts change, sent invoices are paid or voided, money adds up.

Amounts are Decimal with two places; `amount_paid` is recomputed from the completed payments in the same
transaction that records one (the invoice row is locked first, so concurrent payments queue), which keeps
`amount_paid` and `balance_due` equal to the sum of recorded payments at every commit.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import Row, Select, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import insert

from domain import policy
from domain.client.models import Client
from domain.client.service import load_visible_client
from domain.context import ServiceContext
from domain.errors import BusinessRuleViolation, Conflict, FieldError, NotFound, ValidationFailed, date_out_of_range
from domain.event.record import add_event, record_event
from domain.invoice.models import Invoice, InvoiceHistory, InvoicePayment
from domain.listing import Filterable, ListQuery, ListSpec, Page, paginate
from domain.money import MAX_AMOUNT, ZERO, line_amount
from domain.numbering import next_formatted
from domain.tax_return.models import TaxReturn
from domain.tax_return.service import readable_returns

STATUSES = frozenset({"draft", "sent", "partially_paid", "paid", "overdue", "void"})
OPEN_STATUSES = frozenset({"sent", "partially_paid", "overdue"})  # sent and money still due
PAYMENT_METHODS = ("credit_card", "ach", "check", "cash", "wire", "other")  # api/schemas/invoice.py reads it
# The latest due date an invoice can be given, from today. Invoices are due in 30 days by default; a year covers
# any payment plan a firm agrees to.
MAX_DUE_AHEAD = timedelta(days=365)

LIST_SPEC = ListSpec(
    filters={
        "client_id": Filterable(Invoice.client_id, uuid.UUID),
        "return_id": Filterable(Invoice.return_id, uuid.UUID),
        "status": Filterable(Invoice.status, choices=STATUSES),
        "invoice_number": Filterable(Invoice.invoice_number),
        "due_date": Filterable(Invoice.due_date, date, ("eq", "gte", "lte")),
        "total": Filterable(Invoice.total, Decimal, ("eq", "gte", "lte")),
        "created_at": Filterable(Invoice.created_at, datetime, ("gte", "lte")),
    },
    sortable={"created_at": Invoice.created_at, "invoice_number": Invoice.invoice_number, "total": Invoice.total,
              "updated_at": Invoice.updated_at},
    id_column=Invoice.id,
    default_sort="-created_at",
    output_fields=frozenset({"id", "invoice_number", "client_id", "return_id", "status", "amount", "tax", "total",
                             "amount_paid", "balance_due", "due_date", "payment_link",
                             "line_items", "created_at", "sent_at", "paid_at", "voided_at", "updated_at"}),
)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _not_draft(invoice: Invoice, action: str) -> BusinessRuleViolation:
    return BusinessRuleViolation(f"Only draft invoices can be {action}; this one is {invoice.status}",
                                 [FieldError("status", "invoice_not_draft", f"invoice is {invoice.status}")],
                                 code="invoice_not_draft")


def content_hash(invoice: Invoice) -> str:
    """What the client is asked to pay. A payment link is made for exactly this; an edited draft gets a new one."""
    billed = {"total": str(invoice.total), "items": invoice.line_items}
    return hashlib.sha256(json.dumps(billed, sort_keys=True).encode()).hexdigest()[:24]


def settled_status(invoice: Invoice) -> str:
    """The status an invoice that has been sent is in, given its payments and whether it is past due."""
    if invoice.status in ("draft", "void"):
        return invoice.status
    if invoice.amount_paid >= invoice.total:
        return "paid"
    if invoice.overdue_since is not None:
        return "overdue"
    if invoice.amount_paid > ZERO:
        return "partially_paid"
    return "sent"


def history(invoice: Invoice, event: str, from_status: str | None, details: dict | None = None) -> InvoiceHistory:
    return InvoiceHistory(id=uuid.uuid4(), invoice_id=invoice.id, event=event, from_status=from_status,
                          to_status=invoice.status, details=details)


# ---- reading -------------------------------------------------------------------------------------------------

def readable_invoices(ctx: ServiceContext) -> Select:
    """The invoices the caller may read (those of the clients it may see): the one query of invoice visibility,
    under the list and every load."""
    return (select(Invoice).join(Client, Client.id == Invoice.client_id)
            .where(policy.client_visibility(ctx.principal, Invoice.firm_id, Invoice.client_id,
                                            Client.assigned_preparer_id), Client.deleted_at.is_(None)))


async def list_invoices(ctx: ServiceContext, query: ListQuery) -> Page:
    policy.require(ctx.principal, "invoice.list")
    page = await paginate(ctx.session, readable_invoices(ctx), query, LIST_SPEC)
    await ctx.audit("invoice.list", "invoice", details={"count": len(page.items)})
    return page


async def load_visible_invoice(ctx: ServiceContext, invoice_id: uuid.UUID, lock: bool = False) -> Invoice:
    """The invoice if the caller may see its client; 404 otherwise (another firm's or client's invoice)."""
    stmt = readable_invoices(ctx).where(Invoice.id == invoice_id)
    invoice = (await ctx.session.execute(stmt.with_for_update(of=Invoice) if lock else stmt)).scalar_one_or_none()
    if invoice is None:
        raise NotFound("Invoice")
    return invoice


async def payments_of(session, invoice_id: uuid.UUID) -> list[InvoicePayment]:
    rows = await session.execute(select(InvoicePayment).where(InvoicePayment.invoice_id == invoice_id)
                                 .order_by(InvoicePayment.created_at, InvoicePayment.id))
    return list(rows.scalars())


async def get_invoice(ctx: ServiceContext, invoice_id: uuid.UUID) -> tuple[Invoice, list[InvoicePayment]]:
    policy.require(ctx.principal, "invoice.read")
    invoice = await load_visible_invoice(ctx, invoice_id)
    await ctx.audit("invoice.read", "invoice", invoice.id, client_id=invoice.client_id)
    return invoice, await payments_of(ctx.session, invoice.id)


async def list_payments(ctx: ServiceContext, invoice_id: uuid.UUID) -> tuple[Invoice, list[InvoicePayment]]:
    policy.require(ctx.principal, "invoice.read")
    invoice = await load_visible_invoice(ctx, invoice_id)
    await ctx.audit("invoice.payments.list", "invoice", invoice.id, client_id=invoice.client_id)
    return invoice, await payments_of(ctx.session, invoice.id)


# ---- drafts --------------------------------------------------------------------------------------------------

def _price(line_items: list[dict]) -> tuple[list[dict], Decimal]:
    priced, total = [], ZERO
    for item in line_items:
        amount = line_amount(item["quantity"], item["unit_price"])
        priced.append({"description": item["description"], "quantity": item["quantity"],
                       "unit_price": str(item["unit_price"]), "amount": str(amount)})
        total += amount
    if total > MAX_AMOUNT:  # each price fits the column, but quantities can multiply past it
        raise ValidationFailed(errors=[FieldError("line_items", "too_large",
                                                  f"the invoice total must be at most {MAX_AMOUNT}")])
    return priced, total


def _check_due_date(due_date: date | None) -> None:
    if due_date is None:
        return
    today = _now().date()
    if due_date < today:
        raise BusinessRuleViolation("due_date is in the past",
                                    [FieldError("due_date", "in_past", "due_date must be today or later")])
    if due_date > today + MAX_DUE_AHEAD:  # a typo of the year: no invoice is due that far ahead
        raise date_out_of_range("due_date", today, today + MAX_DUE_AHEAD)


async def _check_return(ctx: ServiceContext, return_id: uuid.UUID | None, client_id: uuid.UUID) -> None:
    """A return named on an invoice must be a return of the same client that the caller may read."""
    if return_id is None:
        return
    found = await ctx.session.scalar(readable_returns(ctx).where(TaxReturn.id == return_id,
                                                                 TaxReturn.client_id == client_id)
                                     .with_only_columns(TaxReturn.id))
    if found is None:
        raise BusinessRuleViolation("return_id does not name a return of this client",
                                    [FieldError("return_id", "invalid_reference", "not a return of this client")])


async def create_invoice(ctx: ServiceContext, data: dict) -> Invoice:
    policy.require(ctx.principal, "invoice.create")
    try:
        client = await load_visible_client(ctx, data["client_id"])
    except NotFound:
        raise BusinessRuleViolation("client_id does not name a client you can bill",
                                    [FieldError("client_id", "invalid_reference", "no such client")]) from None
    await _check_return(ctx, data.get("return_id"), client.id)
    _check_due_date(data.get("due_date"))
    items, amount = _price(data["line_items"])
    invoice = Invoice(
        id=uuid.uuid4(), firm_id=ctx.principal.firm_id, client_id=client.id, return_id=data.get("return_id"),
        # Numbered in this transaction: a rollback gives the number back, so the series has no gaps.
        invoice_number=await next_formatted(ctx.session, ctx.principal.firm_id, "INV", _now().year),
        status="draft", line_items=items, amount=amount, tax=ZERO, total=amount, amount_paid=ZERO,
        due_date=data.get("due_date"), created_by=ctx.principal.user_id,
    )
    ctx.session.add(invoice)
    await ctx.session.flush()
    ctx.session.add(history(invoice, "created", None, {"total": str(invoice.total)}))
    await ctx.audit("invoice.create", "invoice", invoice.id, client_id=client.id,
                    details={"invoice_number": invoice.invoice_number, "total": str(invoice.total)})
    return invoice


async def update_invoice(ctx: ServiceContext, invoice_id: uuid.UUID, changes: dict) -> Invoice:
    policy.require(ctx.principal, "invoice.update")
    invoice = await load_visible_invoice(ctx, invoice_id, lock=True)
    if invoice.status != "draft":
        raise _not_draft(invoice, "updated (void it and create a new one)")
    if "return_id" in changes:
        await _check_return(ctx, changes["return_id"], invoice.client_id)
        invoice.return_id = changes["return_id"]
    if "due_date" in changes:
        _check_due_date(changes["due_date"])
        invoice.due_date = changes["due_date"]
    if "line_items" in changes:
        invoice.line_items, invoice.amount = _price(changes["line_items"])
        invoice.total = invoice.amount + invoice.tax
    invoice.updated_at = _now()
    await ctx.session.flush()
    await ctx.audit("invoice.update", "invoice", invoice.id, client_id=invoice.client_id,
                    details={"fields": sorted(changes)})
    return invoice


# ---- sending and voiding -------------------------------------------------------------------------------------

async def check_sendable(ctx: ServiceContext, invoice_id: uuid.UUID) -> Invoice:
    """Checks before the invoice's workflow is asked to send it. No row lock: the workflow's activity locks
    the row to mark it sent while this request's transaction is still open."""
    policy.require(ctx.principal, "invoice.send")
    invoice = await load_visible_invoice(ctx, invoice_id)
    if invoice.status != "draft":
        raise _not_draft(invoice, "sent")
    if invoice.total <= ZERO:
        raise BusinessRuleViolation("An invoice for nothing cannot be sent",
                                    [FieldError("line_items", "zero_total", "the total must be above zero")])
    _check_due_date(invoice.due_date)
    await ctx.audit("invoice.send", "invoice", invoice.id, client_id=invoice.client_id)
    return invoice


async def void_invoice(ctx: ServiceContext, invoice_id: uuid.UUID) -> tuple[Invoice, bool]:
    """Void a draft or an unpaid sent invoice. Returns (invoice, whether it had been sent)."""
    policy.require(ctx.principal, "invoice.void")
    invoice = await load_visible_invoice(ctx, invoice_id, lock=True)
    if invoice.status == "void":
        raise BusinessRuleViolation("The invoice is already void", code="invoice_void")
    if invoice.amount_paid > ZERO:
        raise BusinessRuleViolation("An invoice with recorded payments cannot be voided",
                                    [FieldError("amount_paid", "has_payments", f"{invoice.amount_paid} paid")],
                                    code="invoice_has_payments")
    was_sent, before = invoice.status != "draft", invoice.status
    invoice.status, invoice.voided_at, invoice.updated_at = "void", _now(), _now()
    ctx.session.add(history(invoice, "voided", before))
    await ctx.session.flush()
    await ctx.audit("invoice.void", "invoice", invoice.id, client_id=invoice.client_id)
    return invoice, was_sent


# ---- the invoice's workflow (the system actor) ------------------------------------------------------------------

WORKFLOW = "invoice.workflow"


async def load_invoice(ctx: ServiceContext, invoice_id: uuid.UUID, lock: bool = False) -> Invoice:
    """The firm's invoice for a workflow step (the system actor sees every client of its firm)."""
    policy.require(ctx.principal, WORKFLOW)
    stmt = select(Invoice).where(Invoice.id == invoice_id, Invoice.firm_id == ctx.principal.firm_id)
    invoice = (await ctx.session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if invoice is None:
        raise NotFound("Invoice")
    return invoice


async def mark_sent(ctx: ServiceContext, invoice_id: uuid.UUID, *, checkout_session_id: str, payment_link: str,
                    link_content_hash: str, sent_at: datetime, due_days: int) -> Invoice | None:
    """Draft → sent with its payment link. None when the draft was edited after the link was made (the
    workflow then makes a link for the new content); the invoice as it is when an earlier attempt already
    marked it sent with this link; `invoice_not_draft` when it is sent with another link, or void."""
    invoice = await load_invoice(ctx, invoice_id, lock=True)
    if invoice.status == "draft":
        if content_hash(invoice) != link_content_hash:
            return None
        invoice.status, invoice.sent_at, invoice.updated_at = "sent", sent_at, sent_at
        invoice.payment_link, invoice.stripe_checkout_session_id = payment_link, checkout_session_id
        invoice.due_date = invoice.due_date or (sent_at.date() + timedelta(days=due_days))
        ctx.session.add(history(invoice, "sent", "draft", {"checkout_session": checkout_session_id}))
        record_event(ctx, "invoice.sent", "invoice", invoice.id, invoice.client_id, {"status": "sent"})
        return invoice
    if invoice.stripe_checkout_session_id == checkout_session_id:
        return invoice
    raise _not_draft(invoice, "sent")


async def mark_overdue(ctx: ServiceContext, invoice_id: uuid.UUID, at: datetime) -> str:
    """Past its due date: an open invoice becomes overdue, once. Returns its status afterwards."""
    invoice = await load_invoice(ctx, invoice_id, lock=True)
    if invoice.status in OPEN_STATUSES and invoice.overdue_since is None:
        before = invoice.status
        invoice.overdue_since = at
        invoice.status = settled_status(invoice)
        invoice.updated_at = at
        ctx.session.add(history(invoice, "overdue", before))
    return invoice.status


async def step_done(ctx: ServiceContext, invoice_id: uuid.UUID, event: str) -> bool:
    """Whether a one-time step of the invoice's life (mailed, a reminder, the escalation) is recorded."""
    policy.require(ctx.principal, WORKFLOW)
    return await ctx.session.scalar(select(InvoiceHistory.id).where(
        InvoiceHistory.invoice_id == invoice_id, InvoiceHistory.event == event)) is not None


async def record_step(ctx: ServiceContext, invoice: Invoice, event: str, from_status: str,
                      details: dict | None = None) -> None:
    """A one-time step done: its history row, once (a unique index makes a repeat a no-op)."""
    policy.require(ctx.principal, WORKFLOW)
    await ctx.session.execute(insert(InvoiceHistory).values(
        id=uuid.uuid4(), invoice_id=invoice.id, event=event, from_status=from_status, to_status=invoice.status,
        details=details).on_conflict_do_nothing())


# ---- payments ------------------------------------------------------------------------------------------------

@dataclass
class PaymentOutcome:
    payment: Row | None  # the payment's row as inserted; None: this PaymentIntent's payment was already recorded
    status_before: str
    status_after: str


# Built once and run on the session's connection: the Stripe webhook records a payment per event, and the ORM's
# insert-returning-an-object cost the API more CPU than the statement (issue 19). A PaymentIntent is recorded once
# in a firm: the partial unique index makes a second insert of it a no-op (none is possible without an intent id).
# The index predicate is literal SQL: with a bound 'completed', a statement psycopg has prepared (after five runs
# on a connection) no longer proves it matches the partial index, and fails.
INSERT_PAYMENT = insert(InvoicePayment).values(
    {column: bindparam(column.key) for column in InvoicePayment.__table__.c if column.key != "failure_message"}
).on_conflict_do_nothing(
    index_elements=[InvoicePayment.firm_id, InvoicePayment.stripe_payment_intent_id],
    index_where=text("status = 'completed' AND stripe_payment_intent_id IS NOT NULL"),
).returning(*InvoicePayment.__table__.c)
PAID_SO_FAR = select(func.coalesce(func.sum(InvoicePayment.amount), ZERO)).where(
    InvoicePayment.invoice_id == bindparam("invoice_id"), InvoicePayment.status == "completed")


async def lock_invoice(session, invoice_id: uuid.UUID) -> Invoice | None:
    return (await session.execute(select(Invoice).where(Invoice.id == invoice_id).with_for_update())
            ).scalar_one_or_none()


async def apply_payment(session, invoice: Invoice, *, amount: Decimal, payment_method: str, source: str,
                        stripe_payment_intent_id: str | None = None, stripe_event_id: str | None = None,
                        recorded_by: uuid.UUID | None = None) -> PaymentOutcome:
    """Record a completed payment on a locked invoice and bring amount_paid and status up to date.

    A PaymentIntent is recorded once in a firm, whichever of its events (or a manual entry naming it) comes first:
    the partial unique index makes the second insert a no-op instead of an error.
    """
    before = invoice.status
    connection = await session.connection()
    now = _now()
    # The row itself comes back from the insert (one statement, no read after it).
    payment = (await connection.execute(INSERT_PAYMENT, {
        "id": uuid.uuid4(), "firm_id": invoice.firm_id, "invoice_id": invoice.id, "amount": amount,
        "payment_method": payment_method, "status": "completed", "source": source,
        "stripe_payment_intent_id": stripe_payment_intent_id, "stripe_event_id": stripe_event_id,
        "recorded_by": recorded_by, "processed_at": now, "created_at": now})).one_or_none()
    if payment is None:
        return PaymentOutcome(None, before, before)
    invoice.amount_paid = (await connection.execute(PAID_SO_FAR, {"invoice_id": invoice.id})).scalar_one()
    invoice.status = settled_status(invoice)
    invoice.updated_at = _now()
    session.add(history(invoice, "payment", before, {"amount": str(amount), "source": source,
                                                      "payment_intent": stripe_payment_intent_id}))
    if invoice.status == "paid" and before != "paid":
        invoice.paid_at = _now()
        session.add(history(invoice, "paid", before))
        add_event(session, invoice.firm_id, "invoice.paid", "invoice", invoice.id, invoice.client_id,
                  {"status": "paid"})
    await session.flush()
    return PaymentOutcome(payment, before, invoice.status)


async def record_failed_payment(session, invoice: Invoice, *, amount: Decimal, stripe_payment_intent_id: str,
                                stripe_event_id: str, message: str | None) -> InvoicePayment:
    payment = InvoicePayment(id=uuid.uuid4(), firm_id=invoice.firm_id, invoice_id=invoice.id, amount=amount,
                             payment_method="credit_card", status="failed", source="stripe",
                             stripe_payment_intent_id=stripe_payment_intent_id, stripe_event_id=stripe_event_id,
                             failure_message=(message or "")[:500] or None)
    session.add(payment)
    session.add(history(invoice, "payment_failed", invoice.status, {"payment_intent": stripe_payment_intent_id}))
    await session.flush()
    return payment


async def record_manual_payment(ctx: ServiceContext, invoice_id: uuid.UUID, data: dict) -> PaymentOutcome:
    """A payment recorded by staff (a check, cash, a Stripe payment the webhook has not brought yet)."""
    policy.require(ctx.principal, "invoice.record_payment")
    invoice = await load_visible_invoice(ctx, invoice_id, lock=True)
    if invoice.status not in OPEN_STATUSES:
        raise BusinessRuleViolation(f"Payments are recorded on sent, unpaid invoices; this one is {invoice.status}",
                                    code="invoice_not_open")
    amount: Decimal = data["amount"]
    if amount > invoice.balance_due:
        raise BusinessRuleViolation(
            f"The payment of {amount} is larger than the balance due of {invoice.balance_due}",
            [FieldError("amount", "exceeds_balance", f"at most {invoice.balance_due}")], code="exceeds_balance")
    outcome = await apply_payment(ctx.session, invoice, amount=amount, payment_method=data["payment_method"],
                                  source="manual", stripe_payment_intent_id=data.get("stripe_payment_intent_id"),
                                  recorded_by=ctx.principal.user_id)
    if outcome.payment is None:
        raise Conflict("A payment for this PaymentIntent is already recorded",
                       [FieldError("stripe_payment_intent_id", "duplicate", "already recorded")])
    await ctx.audit("invoice.record_payment", "invoice", invoice.id, client_id=invoice.client_id,
                    details={"amount": str(amount), "payment_id": str(outcome.payment.id)})
    return outcome
