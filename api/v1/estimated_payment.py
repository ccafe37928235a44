"""Estimated tax payments (spec §11.6): a return's quarterly schedule, reminders, confirmations."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from api import envelope
from api.deps import Ctx, State
from api.json_route import JSONRoute
from api.money_json import MoneyJSONResponse
from api.schemas.base import patch_changes
from api.openapi import One, Page, answers
from api.schemas.estimated_payment import (
    EstimatedPaymentOut, PaymentConfirm, PaymentUpdate, ReminderRequest, ReminderSent, ScheduleCreate, ScheduleOut,
)
from api.v1.client import iso
from domain.estimated_payment import service
from domain.estimated_payment.models import EstimatedPayment, EstimatedPaymentSchedule
from integrations.notify import Notification, Notifier, Recipient
from orchestration import estimated_payment as workflow
from orchestration.mail import mail

router = APIRouter(route_class=JSONRoute, tags=["estimated payments"])


def payment_out(payment: EstimatedPayment, tax_year: int) -> dict:
    return {
        "id": str(payment.id),
        "schedule_id": str(payment.schedule_id),
        "return_id": str(payment.return_id),
        "client_id": str(payment.client_id),
        "tax_year": tax_year,
        "quarter": payment.quarter,
        "due_date": payment.due_date.isoformat(),
        "federal_amount": payment.federal_amount,
        "state_amount": payment.state_amount,
        "status": payment.status,
        "reminder_sent": payment.reminder_sent,
        "reminder_sent_at": iso(payment.reminder_sent_at),
        "reminder_type": payment.reminder_type,
        "confirmation_number": payment.confirmation_number,
        "payment_date": payment.payment_date.isoformat() if payment.payment_date else None,
        "payment_method": payment.payment_method,
        "confirmed_at": iso(payment.confirmed_at),
        "created_at": iso(payment.created_at),
        "updated_at": iso(payment.updated_at),
    }


def schedule_out(schedule: EstimatedPaymentSchedule, payments: list[EstimatedPayment]) -> dict:
    return {
        "id": str(schedule.id),
        "return_id": str(schedule.return_id),
        "client_id": str(schedule.client_id),
        "tax_year": schedule.tax_year,
        "federal_annual": schedule.federal_annual,
        "state_annual": schedule.state_annual,
        "payment_method": schedule.payment_method,
        "status": schedule.status,
        "payments": [payment_out(p, schedule.tax_year) for p in payments],
        "created_at": iso(schedule.created_at),
    }


async def _tell_workflow(ctx, state, schedule: EstimatedPaymentSchedule) -> None:
    """Commit the change with its message to the schedule's workflow, then send it (the workflow re-reads the
    committed quarters). Through the outbox: if Temporal cannot be reached now, the relay starts or signals the
    workflow a little later, so a schedule is never left without its reminders."""
    await state.outbox.commit_and_send(ctx.session, workflow.changed(schedule, state.settings.reminder_time_utc))


@router.get("/returns/{return_id}/estimated-payments", summary="List a return's estimated payments",
            operation_id="list_estimated_payments", **answers(Page(EstimatedPaymentOut), 403, 404))
async def list_estimated_payments(return_id: uuid.UUID, ctx: Ctx):
    """Every quarter of every schedule of the return, by due date."""
    rows = await service.list_for_return(ctx, return_id)
    return MoneyJSONResponse(envelope.many(payment_out(p, year) for p, year in rows))


@router.post("/returns/{return_id}/estimated-payments",
             summary="Create an estimated payment schedule (admin, EA/CPA, preparer)",
             operation_id="create_estimated_payment_schedule",
             **answers(One(ScheduleOut), 403, 404, 409, 422, status=201))
async def create_schedule(return_id: uuid.UUID, body: ScheduleCreate, ctx: Ctx, state: State):
    """`equal_quarterly`: four payments due April 15, June 15, September 15 and January 15 of the next year,
    each moved past weekends and legal holidays; amounts split to the cent. Reminders 14 days before and on
    each due date are scheduled in Temporal."""
    schedule, payments = await service.create_schedule(ctx, return_id, body.model_dump())
    await _tell_workflow(ctx, state, schedule)
    return MoneyJSONResponse(envelope.one(schedule_out(schedule, payments)), status_code=201)


@router.get("/estimated-payments/{payment_id}", summary="Get one estimated payment",
            operation_id="get_estimated_payment", **answers(One(EstimatedPaymentOut), 403, 404))
async def get_estimated_payment(payment_id: uuid.UUID, ctx: Ctx):
    payment, schedule = await service.get_payment(ctx, payment_id)
    return MoneyJSONResponse(envelope.one(payment_out(payment, schedule.tax_year)))


@router.patch("/estimated-payments/{payment_id}", summary="Update an estimated payment (admin, EA/CPA, preparer)",
              operation_id="update_estimated_payment", **answers(One(EstimatedPaymentOut), 403, 404, 409, 422))
async def update_estimated_payment(payment_id: uuid.UUID, body: PaymentUpdate, ctx: Ctx, state: State):
    """Amounts, due date, or status scheduled/confirmed_paid; its reminders are re-planned."""
    changes = patch_changes(body)
    payment, schedule = await service.update_payment(ctx, payment_id, changes)
    await _tell_workflow(ctx, state, schedule)
    return MoneyJSONResponse(envelope.one(payment_out(payment, schedule.tax_year)))


@router.post("/estimated-payments/{payment_id}/remind", summary="Send a reminder now (staff)",
             operation_id="remind_estimated_payment", **answers(One(ReminderSent), 403, 404, 409, 422))
async def remind(payment_id: uuid.UUID, body: ReminderRequest, ctx: Ctx, state: State):
    """By email and/or SMS (through the SMS gateway of integrations/notify.py), for a scheduled payment."""
    payment, schedule = await service.check_remindable(ctx, payment_id)
    client, firm = await service.recipient_of(ctx.session, payment)
    notifier = Notifier(state.mailer, state.settings.sms_email_domain)
    text = service.reminder_notification(payment, schedule.tax_year, client, firm, body.reminder_type)
    mails = notifier.plan(Recipient(email=client.email, phone=client.phone), Notification(**text),
                          tuple(body.channels))
    used = [channel for channel, *_ in mails]
    await service.record_reminder(ctx.session, payment, body.reminder_type, used, scheduled_for=None)
    await ctx.audit("estimated_payment.remind", "estimated_payment", payment.id, client_id=payment.client_id,
                    details={"channels": used, "reminder_type": body.reminder_type})
    answer = envelope.one({"id": str(payment.id), "reminder_sent": payment.reminder_sent,
                           "reminder_sent_at": iso(payment.reminder_sent_at),
                           "reminder_type": payment.reminder_type, "channels": used})
    # The mails commit with the reminder's record: sent after the commit, or by the outbox relay.
    await state.outbox.commit_and_send(ctx.session, *(mail(address, subject, body_text,
                                                          about=f"estimated_payment:{payment.id}")
                                                     for _, address, subject, body_text in mails))
    return MoneyJSONResponse(answer)


@router.post("/estimated-payments/{payment_id}/confirm", summary="Confirm a payment was made (client or staff)",
             operation_id="confirm_estimated_payment", **answers(One(EstimatedPaymentOut), 403, 404, 409, 422))
async def confirm(payment_id: uuid.UUID, body: PaymentConfirm, ctx: Ctx, state: State):
    """The quarter becomes confirmed_paid and gets no more reminders."""
    payment, schedule = await service.confirm_payment(ctx, payment_id, body.model_dump())
    await _tell_workflow(ctx, state, schedule)
    return MoneyJSONResponse(envelope.one(payment_out(payment, schedule.tax_year)))


@router.delete("/estimated-payments/{payment_id}", summary="Cancel a scheduled estimated payment (admin, EA/CPA)",
               operation_id="cancel_estimated_payment",
               **answers(None, 403, 404, 409, 422, status=204, description="Cancelled"))
async def cancel(payment_id: uuid.UUID, ctx: Ctx, state: State):
    """A confirmed payment cannot be cancelled (422). The quarter is kept with status `cancelled`."""
    schedule = await service.cancel_payment(ctx, payment_id)
    await _tell_workflow(ctx, state, schedule)
    return Response(status_code=204)
