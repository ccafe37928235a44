"""Activities of an estimated-payment schedule: read its quarters, send one reminder.

`send_reminder` is idempotent: the reminder row is unique per (payment, type, scheduled instant) and is
inserted in the transaction that holds the payment's row lock, after the message went out (at-least-once:
a crash between sending and committing sends it again on retry, it never skips it). A quarter that is paid
or cancelled when the reminder is due is not reminded of, whatever the workflow believed.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel
from sqlalchemy import select
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


class EstimatedPaymentActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], notifier: Notifications):
        self.sessionmaker, self.notifier = sessionmaker, notifier

    @activity.defn(name="estimated_payment.load_schedule")
    async def load_schedule(self, data: ScheduleRef) -> ScheduleSnapshot:
        async with self.sessionmaker() as session:
            schedule = await session.get(EstimatedPaymentSchedule, data.schedule_id)
            if schedule is None:
                return ScheduleSnapshot(status="missing")
            rows = (await session.execute(select(EstimatedPayment).where(
                EstimatedPayment.schedule_id == schedule.id).order_by(EstimatedPayment.quarter))).scalars().all()
        return ScheduleSnapshot(status=schedule.status, tax_year=schedule.tax_year, quarters=[
            QuarterSnapshot(payment_id=p.id, quarter=p.quarter, due_date=p.due_date, status=p.status) for p in rows])

    @activity.defn(name="estimated_payment.send_reminder")
    async def send_reminder(self, data: ReminderInput) -> bool:
        """True when the reminder went out now; False when it was not due any more or already sent."""
        async with self.sessionmaker.begin() as session:
            payment = (await session.execute(select(EstimatedPayment).where(
                EstimatedPayment.id == data.payment_id).with_for_update())).scalar_one_or_none()
            if payment is None or payment.status != "scheduled":
                return False
            if await service.automatic_reminder_sent(session, payment.id, data.reminder_type, data.scheduled_for):
                return False
            schedule = await session.get(EstimatedPaymentSchedule, payment.schedule_id)
            client, firm = await service.recipient_of(session, payment)
            text = service.reminder_notification(payment, schedule.tax_year, client, firm, data.reminder_type)
            used = await self.notifier.send(Recipient(email=client.email, phone=client.phone), Notification(**text),
                                            CHANNELS)
            return await service.record_reminder(session, payment, data.reminder_type, used, data.scheduled_for)
