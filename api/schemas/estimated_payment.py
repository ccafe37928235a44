"""Request bodies of the estimated tax payments API (spec §11.6)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from api.schemas.base import IsoDate, RequestModel, one_of
from api.schemas.invoice import Money
from domain.estimated_payment.service import (
    PAYMENT_METHODS, REMINDER_CHANNELS, REMINDER_TYPES, SCHEDULE_METHODS, SETTABLE_STATUSES,
)


class ScheduleCreate(RequestModel):
    tax_year: int = Field(ge=2000, le=2100)
    federal_annual: Money
    state_annual: Money = Decimal("0.00")
    payment_method: one_of(SCHEDULE_METHODS) = "equal_quarterly"


class PaymentUpdate(RequestModel):
    federal_amount: Money | None = None
    state_amount: Money | None = None
    due_date: IsoDate | None = None
    # Cancelling is DELETE; confirming with details is POST …/confirm.
    status: one_of(SETTABLE_STATUSES) | None = None


class ReminderRequest(RequestModel):
    reminder_type: one_of(REMINDER_TYPES) = "14_day"
    channels: list[one_of(REMINDER_CHANNELS)] = Field(default_factory=lambda: ["email"], min_length=1)


class PaymentConfirm(RequestModel):
    confirmation_number: str | None = Field(None, min_length=1, max_length=100)
    payment_date: IsoDate
    payment_method: one_of(PAYMENT_METHODS)
