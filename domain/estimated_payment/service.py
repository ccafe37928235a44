"""Estimated tax payment rules (spec §11.6).

A schedule belongs to a return and a tax year and holds four quarters. `equal_quarterly` splits the federal
and the state annual amounts into four parts that add up to the cent, due on the Form 1040-ES dates rolled past
weekends and legal holidays (domain/tax_calendar.py). Quarters are `scheduled`, `confirmed_paid` or
`cancelled`; only scheduled ones are reminded of, 14 days before and on the due date.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from domain import policy
from domain.client.models import Client
from domain.context import ServiceContext
from domain.errors import BusinessRuleViolation, Conflict, FieldError, NotFound, date_out_of_range
from domain.estimated_payment.models import EstimatedPayment, EstimatedPaymentReminder, EstimatedPaymentSchedule
from domain.firm.models import Firm
from domain.money import split_evenly
from domain.tax_calendar import earliest_estimated_payment, estimated_tax_due_dates, estimated_tax_due_window
from domain.tax_return import service as returns

# The one definition of each (api/schemas/estimated_payment.py reads them).
SCHEDULE_METHODS = ("equal_quarterly",)
# What PATCH may set a quarter to: cancelling is DELETE, and `cancelled` the third status.
SETTABLE_STATUSES = ("scheduled", "confirmed_paid")
REMINDER_TYPES = ("14_day", "due_day")
REMINDER_CHANNELS = ("email", "sms")
PAYMENT_METHODS = ("ach", "eftps", "direct_pay", "card", "check", "other")  # how the client paid a quarter
REMINDER_LEAD = {"14_day": timedelta(days=14), "due_day": timedelta(0)}


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ---- the reminder calendar (pure: the workflow uses it) --------------------------------------------------------

def reminder_instant(due_date: date, reminder_type: str, time_of_day: time) -> datetime:
    return datetime.combine(due_date - REMINDER_LEAD[reminder_type], time_of_day, tzinfo=timezone.utc)


def reminder_deadline(due_date: date) -> datetime:
    """A reminder not sent by the end of the due date (UTC) is no longer worth sending."""
    return datetime.combine(due_date + timedelta(days=1), time(0, 0), tzinfo=timezone.utc)


# ---- reading -------------------------------------------------------------------------------------------------

async def list_for_return(ctx: ServiceContext, return_id: uuid.UUID) -> list[tuple[EstimatedPayment, int]]:
    """Every quarter of every schedule of the return, with its tax year, by due date."""
    policy.require(ctx.principal, "estimated_payment.list")
    tax_return, _ = await returns.load_visible_return(ctx, return_id)
    rows = await ctx.session.execute(
        select(EstimatedPayment, EstimatedPaymentSchedule.tax_year)
        .join(EstimatedPaymentSchedule, EstimatedPaymentSchedule.id == EstimatedPayment.schedule_id)
        .where(EstimatedPayment.return_id == tax_return.id)
        .order_by(EstimatedPayment.due_date, EstimatedPayment.quarter, EstimatedPayment.id))
    await ctx.audit("estimated_payment.list", "tax_return", tax_return.id, client_id=tax_return.client_id)
    return [(payment, year) for payment, year in rows.all()]


async def load_visible_payment(ctx: ServiceContext, payment_id: uuid.UUID, lock: bool = False
                               ) -> tuple[EstimatedPayment, EstimatedPaymentSchedule]:
    """The quarter and its schedule, if the caller may see the return they belong to; else 404. A payment is
    part of its return: whoever may open the return (domain/tax_return/service.load_visible_return) may open
    its payments, and nobody else."""
    stmt = select(EstimatedPayment).where(EstimatedPayment.id == payment_id,
                                          EstimatedPayment.firm_id == ctx.principal.firm_id)
    payment = (await ctx.session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if payment is None:
        raise NotFound("Estimated payment")
    try:
        await returns.load_visible_return(ctx, payment.return_id)
    except NotFound:
        raise NotFound("Estimated payment") from None
    return payment, await ctx.session.get(EstimatedPaymentSchedule, payment.schedule_id)


async def get_payment(ctx: ServiceContext, payment_id: uuid.UUID) -> tuple[EstimatedPayment, EstimatedPaymentSchedule]:
    policy.require(ctx.principal, "estimated_payment.list")
    payment, schedule = await load_visible_payment(ctx, payment_id)
    await ctx.audit("estimated_payment.read", "estimated_payment", payment.id, client_id=payment.client_id)
    return payment, schedule


# ---- writing -------------------------------------------------------------------------------------------------

async def create_schedule(ctx: ServiceContext, return_id: uuid.UUID, data: dict
                          ) -> tuple[EstimatedPaymentSchedule, list[EstimatedPayment]]:
    policy.require(ctx.principal, "estimated_payment.create")
    tax_return, _ = await returns.load_visible_return(ctx, return_id)
    existing = await ctx.session.scalar(select(EstimatedPaymentSchedule.id).where(
        EstimatedPaymentSchedule.return_id == tax_return.id, EstimatedPaymentSchedule.tax_year == data["tax_year"],
        EstimatedPaymentSchedule.status != "cancelled"))
    if existing is not None:
        raise Conflict(f"This return already has an estimated payment schedule for {data['tax_year']}",
                       [FieldError("tax_year", "duplicate", f"schedule {existing} exists")])
    schedule = EstimatedPaymentSchedule(
        id=uuid.uuid4(), firm_id=tax_return.firm_id, client_id=tax_return.client_id, return_id=tax_return.id,
        tax_year=data["tax_year"], federal_annual=data["federal_annual"], state_annual=data["state_annual"],
        payment_method=data["payment_method"], status="active", created_by=ctx.principal.user_id)
    ctx.session.add(schedule)
    federal, state = split_evenly(data["federal_annual"], 4), split_evenly(data["state_annual"], 4)
    payments = [
        EstimatedPayment(id=uuid.uuid4(), schedule_id=schedule.id, firm_id=schedule.firm_id,
                         client_id=schedule.client_id, return_id=schedule.return_id, quarter=q + 1, due_date=due,
                         federal_amount=federal[q], state_amount=state[q], status="scheduled", reminder_sent=False)
        for q, due in enumerate(estimated_tax_due_dates(data["tax_year"]))]
    await ctx.session.flush()  # the schedule row first: the quarters reference it
    ctx.session.add_all(payments)
    await ctx.session.flush()
    await ctx.audit("estimated_payment.create_schedule", "estimated_payment_schedule", schedule.id,
                    client_id=schedule.client_id, details={"tax_year": schedule.tax_year})
    return schedule, payments


def _not_scheduled(payment: EstimatedPayment, action: str) -> BusinessRuleViolation:
    return BusinessRuleViolation(f"A {payment.status} payment cannot be {action}",
                                 [FieldError("status", "invalid_state", f"payment is {payment.status}")],
                                 code="invalid_state")


async def update_payment(ctx: ServiceContext, payment_id: uuid.UUID, changes: dict
                         ) -> tuple[EstimatedPayment, EstimatedPaymentSchedule]:
    policy.require(ctx.principal, "estimated_payment.update")
    payment, schedule = await load_visible_payment(ctx, payment_id, lock=True)
    if payment.status == "cancelled":
        raise _not_scheduled(payment, "changed")
    if "due_date" in changes:
        earliest, latest = estimated_tax_due_window(schedule.tax_year)
        if not earliest <= changes["due_date"] <= latest:
            raise date_out_of_range("due_date", earliest, latest)
    for name in ("federal_amount", "state_amount", "due_date"):
        if name in changes:
            setattr(payment, name, changes[name])
    if "status" in changes and changes["status"] != payment.status:
        payment.status = changes["status"]
        payment.confirmed_at = _now() if payment.status == "confirmed_paid" else None
    payment.updated_at = _now()
    await ctx.session.flush()
    await ctx.audit("estimated_payment.update", "estimated_payment", payment.id, client_id=payment.client_id,
                    details={"fields": sorted(changes)})
    return payment, schedule


async def confirm_payment(ctx: ServiceContext, payment_id: uuid.UUID, data: dict
                          ) -> tuple[EstimatedPayment, EstimatedPaymentSchedule]:
    """The client (or staff for them) says the payment was made."""
    policy.require(ctx.principal, "estimated_payment.confirm")
    payment, schedule = await load_visible_payment(ctx, payment_id, lock=True)
    if payment.status == "confirmed_paid":
        raise Conflict("This payment is already confirmed")
    if payment.status != "scheduled":
        raise _not_scheduled(payment, "confirmed")
    if data["payment_date"] > _now().date():
        raise BusinessRuleViolation("payment_date is in the future",
                                    [FieldError("payment_date", "in_future", "a payment is confirmed once made")])
    earliest = earliest_estimated_payment(schedule.tax_year)
    if data["payment_date"] < earliest:
        raise date_out_of_range("payment_date", earliest, _now().date())
    payment.status, payment.confirmed_at, payment.updated_at = "confirmed_paid", _now(), _now()
    payment.confirmation_number = data.get("confirmation_number")
    payment.payment_date, payment.payment_method = data["payment_date"], data["payment_method"]
    await ctx.session.flush()
    await ctx.audit("estimated_payment.confirm", "estimated_payment", payment.id, client_id=payment.client_id)
    return payment, schedule


async def cancel_payment(ctx: ServiceContext, payment_id: uuid.UUID) -> EstimatedPaymentSchedule:
    """DELETE: the quarter is cancelled (kept, for the record). Cancelling a cancelled one changes nothing."""
    policy.require(ctx.principal, "estimated_payment.delete")
    payment, schedule = await load_visible_payment(ctx, payment_id, lock=True)
    if payment.status == "confirmed_paid":
        raise _not_scheduled(payment, "cancelled")
    if payment.status == "cancelled":
        return schedule
    payment.status, payment.cancelled_at, payment.updated_at = "cancelled", _now(), _now()
    await ctx.session.flush()
    remaining = await ctx.session.scalar(select(EstimatedPayment.id).where(
        EstimatedPayment.schedule_id == schedule.id, EstimatedPayment.status != "cancelled").limit(1))
    if remaining is None:
        schedule.status, schedule.updated_at = "cancelled", _now()
    await ctx.audit("estimated_payment.cancel", "estimated_payment", payment.id, client_id=payment.client_id)
    return schedule


# ---- reminders -----------------------------------------------------------------------------------------------

async def recipient_of(session, payment: EstimatedPayment) -> tuple[Client, Firm]:
    return await session.get(Client, payment.client_id), await session.get(Firm, payment.firm_id)


@dataclass(frozen=True)
class ReminderContext:
    payment: EstimatedPayment  # locked FOR UPDATE
    schedule: EstimatedPaymentSchedule
    client: Client
    firm: Firm
    already_sent: bool  # this automatic reminder (payment, type, instant) is recorded


async def reminder_context(session, payment_id: uuid.UUID, reminder_type: str,
                           scheduled_for: datetime) -> ReminderContext | None:
    """Everything an automatic reminder needs, in one statement (a burst sends hundreds at once): the payment,
    locked, its schedule, client and firm, and whether this reminder is recorded already. None when the payment
    is gone."""
    recorded = select(EstimatedPaymentReminder.id).where(
        EstimatedPaymentReminder.payment_id == EstimatedPayment.id,
        EstimatedPaymentReminder.reminder_type == reminder_type,
        EstimatedPaymentReminder.scheduled_for == scheduled_for).exists()
    row = (await session.execute(
        select(EstimatedPayment, EstimatedPaymentSchedule, Client, Firm, recorded)
        .join(EstimatedPaymentSchedule, EstimatedPaymentSchedule.id == EstimatedPayment.schedule_id)
        .join(Client, Client.id == EstimatedPayment.client_id).join(Firm, Firm.id == EstimatedPayment.firm_id)
        .where(EstimatedPayment.id == payment_id).with_for_update(of=EstimatedPayment))).first()
    return ReminderContext(*row) if row is not None else None


async def quarters_of(session, schedule_id: uuid.UUID) -> list[EstimatedPayment]:
    return list((await session.execute(select(EstimatedPayment).where(
        EstimatedPayment.schedule_id == schedule_id).order_by(EstimatedPayment.quarter))).scalars())


def reminder_notification(payment: EstimatedPayment, tax_year: int, client: Client, firm: Firm,
                          reminder_type: str) -> dict:
    """subject, text (mail) and sms_text of a reminder: the fields of integrations.notify.Notification."""
    total = payment.federal_amount + payment.state_amount
    when = "today" if reminder_type == "due_day" else f"on {payment.due_date:%B %-d, %Y}"
    return dict(
        subject=f"Estimated tax payment Q{payment.quarter} {tax_year} is due {when}",
        text=(f"Dear {client.name},\n\nYour Q{payment.quarter} {tax_year} estimated tax payment is due {when} "
              f"({payment.due_date.isoformat()}):\n\n  Federal: ${payment.federal_amount:,.2f}\n"
              f"  State:   ${payment.state_amount:,.2f}\n  Total:   ${total:,.2f}\n\n"
              f"Once paid, please confirm it in the portal with the confirmation number.\n\n{firm.name}\n"),
        sms_text=(f"{firm.name}: Q{payment.quarter} {tax_year} estimated tax (${total:,.2f}) is due {when}. "
                  f"Confirm in the portal once paid."))


async def record_reminder(session, payment: EstimatedPayment, reminder_type: str, channels: list[str],
                          scheduled_for: datetime | None) -> bool:
    """Write the reminder row (unique per automatic reminder) and the payment's reminder fields.
    False when this automatic reminder was already recorded."""
    inserted = (await session.execute(insert(EstimatedPaymentReminder).values(
        id=uuid.uuid4(), payment_id=payment.id, reminder_type=reminder_type, channels=",".join(channels),
        scheduled_for=scheduled_for, sent_at=_now()).on_conflict_do_nothing().returning(EstimatedPaymentReminder.id)
    )).scalar_one_or_none()
    if inserted is None:
        return False
    payment.reminder_sent, payment.reminder_sent_at, payment.reminder_type = True, _now(), reminder_type
    payment.updated_at = _now()
    return True


async def check_remindable(ctx: ServiceContext, payment_id: uuid.UUID
                           ) -> tuple[EstimatedPayment, EstimatedPaymentSchedule]:
    policy.require(ctx.principal, "estimated_payment.remind")
    payment, schedule = await load_visible_payment(ctx, payment_id, lock=True)
    if payment.status != "scheduled":
        raise _not_scheduled(payment, "reminded of")
    return payment, schedule
