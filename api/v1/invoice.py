"""Invoices (spec §9): drafts, sending with a Stripe payment link, payments, voiding."""

from __future__ import annotations

import asyncio
import logging
import uuid
from decimal import Decimal

from fastapi import APIRouter, BackgroundTasks, Request
from temporalio.client import WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

from api import envelope
from api.deps import Ctx, State
from api.money_json import MoneyJSONResponse
from api.schemas.base import patch_changes
from api.schemas.invoice import InvoiceCreate, InvoiceUpdate, PaymentCreate
from api.v1.client import iso
from domain.errors import BusinessRuleViolation, DomainError
from domain.invoice import service
from domain.invoice.models import Invoice, InvoicePayment
from domain.listing import parse_list_query
from workflows import ids, queues
from workflows.invoice import InvoiceEvent, InvoiceWorkflow, InvoiceWorkflowInput, signal_invoice

router = APIRouter(tags=["invoices"])
log = logging.getLogger("taxpractice.invoice")

# How long POST /send waits for the payment link before answering 202 (the workflow keeps trying).
SEND_WAIT_S = 15.0


def invoice_out(invoice: Invoice, payments: list[InvoicePayment] | None = None) -> dict:
    """Both spellings of the spec are present: §9.1 lists amount/total/amount_due, §9.2 shows
    total_amount/balance_due; they are the same numbers."""
    body = {
        "id": str(invoice.id),
        "invoice_number": invoice.invoice_number,
        "client_id": str(invoice.client_id),
        "return_id": str(invoice.return_id) if invoice.return_id else None,
        "status": invoice.status,
        "amount": invoice.amount,
        "tax": invoice.tax,
        "total": invoice.total,
        "total_amount": invoice.total,
        "amount_paid": invoice.amount_paid,
        "amount_due": invoice.balance_due,
        "balance_due": invoice.balance_due,
        "due_date": invoice.due_date.isoformat() if invoice.due_date else None,
        "payment_link": invoice.payment_link,
        "line_items": [{"description": i["description"], "quantity": i["quantity"],
                        "unit_price": Decimal(i["unit_price"]), "amount": Decimal(i["amount"])}
                       for i in invoice.line_items],
        "created_at": iso(invoice.created_at),
        "updated_at": iso(invoice.updated_at),
        "sent_at": iso(invoice.sent_at),
        "paid_at": iso(invoice.paid_at),
        "voided_at": iso(invoice.voided_at),
    }
    if payments is not None:
        body["payments"] = [payment_out(p) for p in payments]
    return body


def payment_out(payment: InvoicePayment) -> dict:
    return {
        "id": str(payment.id),
        "invoice_id": str(payment.invoice_id),
        "amount": payment.amount,
        "payment_method": payment.payment_method,
        "status": payment.status,
        "source": payment.source,
        "stripe_payment_intent_id": payment.stripe_payment_intent_id,
        "failure_message": payment.failure_message,
        "processed_at": iso(payment.processed_at),
        "created_at": iso(payment.created_at),
    }


async def _tell_workflow(state, invoice_id: uuid.UUID, event: InvoiceEvent) -> None:
    """After the response (so after the commit): a missed signal only delays what the workflow re-reads."""
    try:
        await signal_invoice(await state.temporal(), invoice_id, event)
    except Exception:
        log.warning("could not signal the workflow of invoice %s", invoice_id, exc_info=True)


@router.get("/invoices", summary="List invoices")
async def list_invoices(request: Request, ctx: Ctx):
    """Filters: client_id, return_id, status, invoice_number, due_date, total, created_at (with __gte/__lte).
    Staff see invoices of the clients they can see; a client sees their own."""
    query = parse_list_query(list(request.query_params.multi_items()), service.LIST_SPEC)
    return MoneyJSONResponse(envelope.page(await service.list_invoices(ctx, query), query, invoice_out))


@router.post("/invoices", status_code=201, summary="Create a draft invoice (admin, EA/CPA)")
async def create_invoice(body: InvoiceCreate, ctx: Ctx):
    """Numbered INV-YYYY-NNNNN at creation, without gaps; amounts are exact decimals."""
    data = body.model_dump()
    invoice = await service.create_invoice(ctx, data)
    return MoneyJSONResponse(envelope.one(invoice_out(invoice, [])), status_code=201)


@router.get("/invoices/{invoice_id}", summary="Get an invoice with its payments")
async def get_invoice(invoice_id: uuid.UUID, ctx: Ctx):
    invoice, payments = await service.get_invoice(ctx, invoice_id)
    return MoneyJSONResponse(envelope.one(invoice_out(invoice, payments)))


@router.patch("/invoices/{invoice_id}", summary="Update a draft invoice (admin, EA/CPA)")
async def update_invoice(invoice_id: uuid.UUID, body: InvoiceUpdate, ctx: Ctx):
    """Only drafts change (422 otherwise): a sent invoice is voided and replaced."""
    changes = patch_changes(body, required=frozenset({"line_items"}))
    if "line_items" in changes:
        changes["line_items"] = [item.model_dump() for item in body.line_items]
    invoice = await service.update_invoice(ctx, invoice_id, changes)
    return MoneyJSONResponse(envelope.one(invoice_out(invoice, await service.payments_of(ctx.session, invoice.id))))


@router.post("/invoices/{invoice_id}/send", summary="Send a draft invoice with a payment link (admin, EA/CPA)")
async def send_invoice(invoice_id: uuid.UUID, ctx: Ctx, state: State):
    """Creates the Stripe payment link and mails the client. 200 with the link; 202 if the payment provider
    is slow or down: the invoice's workflow keeps trying and the invoice turns `sent` when it succeeds."""
    invoice = await service.check_sendable(ctx, invoice_id)
    settings = state.settings
    temporal = await state.temporal()
    start = WithStartWorkflowOperation(
        InvoiceWorkflow.run,
        InvoiceWorkflowInput(invoice_id=invoice.id, firm_id=invoice.firm_id, client_id=invoice.client_id,
                             reminder_time=settings.reminder_time_utc, due_days=settings.invoice_due_days),
        id=ids.invoice(invoice.id), task_queue=queues.BILLING,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
    update = asyncio.ensure_future(temporal.execute_update_with_start_workflow(InvoiceWorkflow.send,
                                                                               start_workflow_operation=start))
    try:
        result = await asyncio.wait_for(asyncio.shield(update), SEND_WAIT_S)
    except asyncio.TimeoutError:
        update.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)
        return MoneyJSONResponse(envelope.one({"id": str(invoice.id), "status": invoice.status, "sent_at": None,
                                               "payment_link": None}), status_code=202)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        detail = cause.message if isinstance(cause, ApplicationError) else str(err)
        if isinstance(cause, ApplicationError) and cause.type == "PaymentProviderRejected":
            raise DomainError(detail, [], 502, "payment_provider", "Payment Provider Error") from None
        raise BusinessRuleViolation(f"The invoice cannot be sent: {detail}", code="invoice_not_sendable") from None
    return MoneyJSONResponse(envelope.one({"id": str(invoice.id), "invoice_number": result.invoice_number,
                                           "status": result.status, "sent_at": iso(result.sent_at),
                                           "due_date": result.due_date.isoformat(),
                                           "payment_link": result.payment_link}))


@router.post("/invoices/{invoice_id}/void", summary="Void an invoice (admin, EA/CPA)")
async def void_invoice(invoice_id: uuid.UUID, ctx: Ctx, state: State):
    """Not in spec §9, which says sent invoices are voided and recreated: a draft or an unpaid sent invoice
    becomes `void`; its payment link is closed and its reminders stop."""
    invoice, was_sent = await service.void_invoice(ctx, invoice_id)
    if was_sent:
        # Told before the commit, while the row is locked: the workflow is what closes the payment link, so a
        # void it cannot hear of is refused (503, rolled back) rather than leave a voided invoice payable.
        await signal_invoice(await state.temporal(), invoice.id, InvoiceEvent(kind="voided"))
    return MoneyJSONResponse(envelope.one(invoice_out(invoice, await service.payments_of(ctx.session, invoice.id))))


@router.post("/invoices/{invoice_id}/payments", status_code=201, summary="Record a payment (admin, EA/CPA)")
async def record_payment(invoice_id: uuid.UUID, body: PaymentCreate, ctx: Ctx, state: State,
                         background: BackgroundTasks):
    """A payment received outside the payment link, or one Stripe's webhook has not brought yet (name its
    `stripe_payment_intent_id`: the webhook will then not count it twice). At most the balance due."""
    outcome = await service.record_manual_payment(ctx, invoice_id, body.model_dump())
    background.add_task(_tell_workflow, state, invoice_id, InvoiceEvent(kind="payment_recorded"))
    return MoneyJSONResponse(envelope.one(payment_out(outcome.payment)), status_code=201, background=background)


@router.get("/invoices/{invoice_id}/payments", summary="List an invoice's payments")
async def list_payments(invoice_id: uuid.UUID, ctx: Ctx):
    """Completed and failed attempts; `meta.total_paid` counts the completed ones."""
    invoice, payments = await service.list_payments(ctx, invoice_id)
    body = envelope.many(payment_out(p) for p in payments)
    body["meta"].update(total_paid=invoice.amount_paid, balance_due=invoice.balance_due)
    return MoneyJSONResponse(body)
