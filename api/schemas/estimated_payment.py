"""Request bodies of the estimated tax payments API (spec §11.6)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import Field

from api.openapi import Amount, ReadModel
from api.schemas.base import IsoDate, PatchModel, RequestModel, one_of
from api.schemas.invoice import Money
from domain.estimated_payment.service import (
    PAYMENT_METHODS, REMINDER_CHANNELS, REMINDER_TYPES, SCHEDULE_METHODS, SETTABLE_STATUSES,
)


class ScheduleCreate(RequestModel):
    tax_year: int = Field(ge=2000, le=2100)
    federal_annual: Money
    state_annual: Money = Decimal("0.00")
    payment_method: one_of(SCHEDULE_METHODS) = "equal_quarterly"


class PaymentUpdate(PatchModel):
    not_clearable = frozenset({"federal_amount", "state_amount", "due_date", "status"})
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


# ---- read models ----------------------------------------------------------------------------------------------

class EstimatedPaymentOut(ReadModel):
    id: uuid.UUID
    schedule_id: uuid.UUID
    return_id: uuid.UUID
    client_id: uuid.UUID
    tax_year: int
    quarter: int = Field(ge=1, le=4)
    due_date: date
    federal_amount: Amount
    state_amount: Amount
    status: str = Field(examples=["scheduled", "confirmed_paid", "cancelled"])
    reminder_sent: bool
    reminder_sent_at: datetime | None
    reminder_type: one_of(REMINDER_TYPES) | None
    confirmation_number: str | None
    payment_date: date | None
    payment_method: one_of(PAYMENT_METHODS) | None
    confirmed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ScheduleOut(ReadModel):
    id: uuid.UUID
    return_id: uuid.UUID
    client_id: uuid.UUID
    tax_year: int
    federal_annual: Amount
    state_annual: Amount
    payment_method: one_of(SCHEDULE_METHODS)
    status: str
    payments: list[EstimatedPaymentOut]
    created_at: datetime


class ReminderSent(ReadModel):
    id: uuid.UUID
    reminder_sent: bool
    reminder_sent_at: datetime | None
    reminder_type: one_of(REMINDER_TYPES) | None
    channels: list[one_of(REMINDER_CHANNELS)] = Field(description="The channels used: one without an address "
                                                                   "on file is left out")
