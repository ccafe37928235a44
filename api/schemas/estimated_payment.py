"""Request bodies of the estimated tax payments API (spec §11.6)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from api.schemas.base import IsoDate, RequestModel
from api.schemas.invoice import Money


class ScheduleCreate(RequestModel):
    tax_year: int = Field(ge=2000, le=2100)
    federal_annual: Money
    state_annual: Money = Decimal("0.00")
    payment_method: Literal["equal_quarterly"] = "equal_quarterly"


class PaymentUpdate(RequestModel):
    federal_amount: Money | None = None
    state_amount: Money | None = None
    due_date: IsoDate | None = None
    # Cancelling is DELETE; confirming with details is POST …/confirm.
    status: Literal["scheduled", "confirmed_paid"] | None = None


class ReminderRequest(RequestModel):
    reminder_type: Literal["14_day", "due_day"] = "14_day"
    channels: list[Literal["email", "sms"]] = Field(default_factory=lambda: ["email"], min_length=1)


class PaymentConfirm(RequestModel):
    confirmation_number: str | None = Field(None, min_length=1, max_length=100)
    payment_date: IsoDate
    payment_method: Literal["ach", "eftps", "direct_pay", "card", "check", "other"]
