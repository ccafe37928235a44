"""Request bodies of the invoices API (spec §9). Amounts are Decimal with at most two places: a negative
amount or a fraction of a cent is a 400 before any rule runs."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from api.schemas.base import IsoDate, RequestModel, one_of
from domain.invoice.service import PAYMENT_METHODS

Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
PositiveMoney = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)]


class LineItem(RequestModel):
    description: str = Field(min_length=1, max_length=200)
    quantity: int = Field(1, ge=1, le=10_000)
    unit_price: Money


class InvoiceCreate(RequestModel):
    client_id: uuid.UUID
    return_id: uuid.UUID | None = None
    due_date: IsoDate | None = Field(None, description="default: 30 days after the invoice is sent")
    line_items: list[LineItem] = Field(min_length=1, max_length=100)


class InvoiceUpdate(RequestModel):
    return_id: uuid.UUID | None = None
    due_date: IsoDate | None = None
    line_items: list[LineItem] | None = Field(None, min_length=1, max_length=100)


class PaymentCreate(RequestModel):
    amount: PositiveMoney
    payment_method: one_of(PAYMENT_METHODS)
    stripe_payment_intent_id: str | None = Field(None, max_length=255, pattern=r"^pi_[A-Za-z0-9_]+$")
