"""Invoices (spec §9): drafts, sending with a Stripe payment link, payments, voiding."""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

from fastapi import APIRouter, Request

from api import envelope
from api.deps import Ctx, State
from api.json_route import JSONRoute
from api.money_json import MoneyJSONResponse
from api.schemas.base import patch_changes
from api.openapi import One, answers, list_of
from api.schemas.invoice import (
    InvoiceCreate, InvoiceDetail, InvoiceSent, InvoiceSummary, InvoiceUpdate, PaymentCreate, PaymentList, PaymentOut,
)
from api.v1.client import iso
from domain.invoice import service
from domain.invoice.models import Invoice, InvoicePayment
from domain.listing import parse_list_query
from orchestration import invoice as workflow

router = APIRouter(route_class=JSONRoute, tags=["invoices"])
log = logging.getLogger("taxpractice.invoice")


def invoice_out(invoice: Invoice, payments: list[InvoicePayment] | None = None) -> dict:
    """One name per amount (issue 14): the spec spells them two ways (§9.1 amount/tax/total/amount_due, §9.2
    total_amount/balance_due); `total` goes with its parts `amount` and `tax` as §9.1 names them, `balance_due`
    is §9.2's and §9.7's (the payments list's meta) name and the domain's. docs/api-conventions.md."""
    body = {
        "id": str(invoice.id),
        "invoice_number": invoice.invoice_number,
        "client_id": str(invoice.client_id),
        "return_id": str(invoice.return_id) if invoice.return_id else None,
        "status": invoice.status,
        "amount": invoice.amount,
        "tax": invoice.tax,
        "total": invoice.total,
        "amount_paid": invoice.amount_paid,
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


@router.get("/invoices", summary="List invoices", operation_id="list_invoices",
            **answers(list_of(InvoiceSummary, service.LIST_SPEC)))
async def list_invoices(request: Request, ctx: Ctx):
    """Filters: client_id, return_id, status, invoice_number, due_date, total, created_at (with __gte/__lte).
    Staff see invoices of the clients they can see; a client sees their own."""
    query = parse_list_query(list(request.query_params.multi_items()), service.LIST_SPEC)
    return MoneyJSONResponse(envelope.page(await service.list_invoices(ctx, query), query, invoice_out))


@router.post("/invoices", summary="Create a draft invoice (admin, EA/CPA)", operation_id="create_invoice",
             **answers(One(InvoiceDetail), 403, 404, 409, 422, status=201))
async def create_invoice(body: InvoiceCreate, ctx: Ctx):
    """Numbered INV-YYYY-NNNNN at creation, without gaps; amounts are exact decimals."""
    data = body.model_dump()
    invoice = await service.create_invoice(ctx, data)
    return MoneyJSONResponse(envelope.one(invoice_out(invoice, [])), status_code=201)


@router.get("/invoices/{invoice_id}", summary="Get an invoice with its payments", operation_id="get_invoice",
            **answers(One(InvoiceDetail), 404))
async def get_invoice(invoice_id: uuid.UUID, ctx: Ctx):
    invoice, payments = await service.get_invoice(ctx, invoice_id)
    return MoneyJSONResponse(envelope.one(invoice_out(invoice, payments)))


@router.patch("/invoices/{invoice_id}", summary="Update a draft invoice (admin, EA/CPA)", operation_id="update_invoice",
              **answers(One(InvoiceDetail), 403, 404, 409, 422))
async def update_invoice(invoice_id: uuid.UUID, body: InvoiceUpdate, ctx: Ctx):
    """Only drafts change (422 otherwise): a sent invoice is voided and replaced."""
    changes = patch_changes(body)
    if "line_items" in changes:
        changes["line_items"] = [item.model_dump() for item in body.line_items]
    invoice = await service.update_invoice(ctx, invoice_id, changes)
    return MoneyJSONResponse(envelope.one(invoice_out(invoice, await service.payments_of(ctx.session, invoice.id))))


@router.post("/invoices/{invoice_id}/send", summary="Send a draft invoice with a payment link (admin, EA/CPA)",
             operation_id="send_invoice", **answers(One(InvoiceSent), 403, 404, 409, 422, also={
                 202: (One(InvoiceSent), "The payment provider is slow: the invoice turns `sent` when it answers")}))
async def send_invoice(invoice_id: uuid.UUID, ctx: Ctx, state: State):
    """Creates the Stripe payment link and mails the client. 200 with the link; 202 if the payment provider
    is slow or down: the invoice's workflow keeps trying and the invoice turns `sent` when it succeeds."""
    invoice = await service.check_sendable(ctx, invoice_id)
    result = await workflow.send(await state.temporal(), invoice, state.settings.reminder_time_utc,
                                 state.settings.invoice_due_days)
    if result is None:  # the payment provider is slow: the workflow keeps trying
        return MoneyJSONResponse(envelope.one({"id": str(invoice.id), "status": invoice.status, "sent_at": None,
                                               "payment_link": None}), status_code=202)
    return MoneyJSONResponse(envelope.one({"id": str(invoice.id), "invoice_number": result.invoice_number,
                                           "status": result.status, "sent_at": iso(result.sent_at),
                                           "due_date": result.due_date.isoformat(),
                                           "payment_link": result.payment_link}))


@router.post("/invoices/{invoice_id}/void", summary="Void an invoice (admin, EA/CPA)", operation_id="void_invoice",
             **answers(One(InvoiceDetail), 403, 404, 409, 422))
async def void_invoice(invoice_id: uuid.UUID, ctx: Ctx, state: State):
    """Not in spec §9, which says sent invoices are voided and recreated: a draft or an unpaid sent invoice
    becomes `void`; its payment link is closed and its reminders stop."""
    invoice, was_sent = await service.void_invoice(ctx, invoice_id)
    if was_sent:
        # Told before the commit, while the row is locked: the workflow is what closes the payment link, so a
        # void it cannot hear of is refused (503, rolled back) rather than leave a voided invoice payable.
        await workflow.void(await state.temporal(), invoice.id)
    return MoneyJSONResponse(envelope.one(invoice_out(invoice, await service.payments_of(ctx.session, invoice.id))))


@router.post("/invoices/{invoice_id}/payments", summary="Record a payment (admin, EA/CPA)",
             operation_id="record_payment",
             **answers(One(PaymentOut), 403, 404, 409, 422, status=201))
async def record_payment(invoice_id: uuid.UUID, body: PaymentCreate, ctx: Ctx, state: State):
    """A payment received outside the payment link, or one Stripe's webhook has not brought yet (name its
    `stripe_payment_intent_id`: the webhook will then not count it twice). At most the balance due."""
    outcome = await service.record_manual_payment(ctx, invoice_id, body.model_dump())
    body_out = envelope.one(payment_out(outcome.payment))
    await state.outbox.commit_and_send(ctx.session, workflow.event(invoice_id, "payment_recorded"))
    return MoneyJSONResponse(body_out, status_code=201)


@router.get("/invoices/{invoice_id}/payments", summary="List an invoice's payments", operation_id="list_payments",
            **answers(PaymentList, 404))
async def list_payments(invoice_id: uuid.UUID, ctx: Ctx):
    """Completed and failed attempts; `meta.total_paid` counts the completed ones."""
    invoice, payments = await service.list_payments(ctx, invoice_id)
    body = envelope.many(payment_out(p) for p in payments)
    body["meta"].update(total_paid=invoice.amount_paid, balance_due=invoice.balance_due)
    return MoneyJSONResponse(body)
