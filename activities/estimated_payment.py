"""Activities of an estimated-payment schedule: read its quarters, send one reminder.

`remind` is idempotent: the reminder row is unique per (payment, type, scheduled instant) and is inserted in the
transaction that holds the payment's row lock, after the message went out (at-least-once: a crash between
sending and committing sends it again on retry, it never skips it). A quarter that is paid or cancelled when the
reminder is due is not reminded of, whatever the workflow believed. It answers with the schedule as it is after
the reminder, so the workflow plans its next one without a second activity (a burst of reminders due at once
costs half the activities and workflow tasks: docs/performance.md).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.estimated_payment import service
from domain.estimated_payment.models import EstimatedPayment, EstimatedPaymentSchedule
from integrations.notify import Notification, Recipient
from integrations.providers import Notifications

CHANNELS = ("email", "sms")


class ScheduleRef(BaseModel):
    schedule_id: uuid.UUID


class QuarterSnapshot(BaseModel):
    payment_id: uuid.UUID
    quarter: int
    due_date: date
    status: str


class ScheduleSnapshot(BaseModel):
    status: str  # active | cancelled | missing
    tax_year: int = 0
    quarters: list[QuarterSnapshot] = []


class ReminderInput(BaseModel):
    payment_id: uuid.UUID
    reminder_type: str  # 14_day | due_day
    scheduled_for: datetime


class Reminded(BaseModel):
    sent: bool  # False: not due any more (paid, cancelled, gone) or recorded already
    snapshot: ScheduleSnapshot  # the schedule after the reminder, read in its transaction


def _snapshot(schedule: EstimatedPaymentSchedule, quarters: list[EstimatedPayment]) -> ScheduleSnapshot:
    return ScheduleSnapshot(status=schedule.status, tax_year=schedule.tax_year, quarters=[
        QuarterSnapshot(payment_id=p.id, quarter=p.quarter, due_date=p.due_date, status=p.status) for p in quarters])


class EstimatedPaymentActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], notifier: Notifications):
        self.sessionmaker, self.notifier = sessionmaker, notifier

    @activity.defn(name="estimated_payment.load_schedule")
    async def load_schedule(self, data: ScheduleRef) -> ScheduleSnapshot:
        async with self.sessionmaker() as session:
            schedule = await session.get(EstimatedPaymentSchedule, data.schedule_id)
            if schedule is None:
                return ScheduleSnapshot(status="missing")
            return _snapshot(schedule, await service.quarters_of(session, schedule.id))

    @activity.defn(name="estimated_payment.remind")
    async def remind(self, data: ReminderInput) -> Reminded:
        async with self.sessionmaker.begin() as session:
            return await self._remind(session, data)

    @activity.defn(name="estimated_payment.send_reminder")
    async def send_reminder(self, data: ReminderInput) -> bool:
        """What schedules whose history predates `remind` still run (workflows/estimated_payment.py
        ONE_ACTIVITY_PER_REMINDER_PATCH): True when the reminder went out now."""
        async with self.sessionmaker.begin() as session:
            return (await self._remind(session, data)).sent

    async def _remind(self, session: AsyncSession, data: ReminderInput) -> Reminded:
        context = await service.reminder_context(session, data.payment_id, data.reminder_type, data.scheduled_for)
        if context is None:
            return Reminded(sent=False, snapshot=ScheduleSnapshot(status="missing"))
        payment, schedule = context.payment, context.schedule
        sent = False
        if payment.status == "scheduled" and not context.already_sent:
            text = service.reminder_notification(payment, schedule.tax_year, context.client, context.firm,
                                                 data.reminder_type)
            used = await self.notifier.send(Recipient(email=context.client.email, phone=context.client.phone),
                                            Notification(**text), CHANNELS)
            sent = await service.record_reminder(session, payment, data.reminder_type, used, data.scheduled_for)
        return Reminded(sent=sent, snapshot=_snapshot(schedule, await service.quarters_of(session, schedule.id)))
