"""Request bodies of the invoices API (spec §9). Amounts are Decimal with at most two places: a negative
amount or a fraction of a cent is a 400 before any rule runs."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, Field, WithJsonSchema

from api.openapi import Amount, Meta, Pagination, ReadModel
from api.schemas.base import IsoDate, PatchModel, RequestModel, one_of
from domain.invoice.service import PAYMENT_METHODS, STATUSES as INVOICE_STATUSES

# An amount as a request may write it: a JSON number, or a decimal string, with at most 12 digits before the point
# and 2 after (NUMERIC(14,2)). A string in any other form ("1e2", " 5", "+5") is refused, so that what the document
# says (the pattern below) is exactly what is accepted.
MONEY_STRING = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"
LARGEST_AMOUNT = 999999999999.99


def _plain_decimal_string(value):
    if isinstance(value, str) and not re.fullmatch(MONEY_STRING, value):
        raise ValueError("must be an amount such as 450.00: digits, and at most two after the point")
    return value


def _money_schema(positive: bool) -> dict:
    low = {"exclusiveMinimum": 0} if positive else {"minimum": 0}
    return {"anyOf": [{"type": "number", **low, "maximum": LARGEST_AMOUNT, "multipleOf": 0.01},
                      {"type": "string", "pattern": MONEY_STRING}],
            "examples": [450.00, "450.00"]}


Money = Annotated[Decimal, BeforeValidator(_plain_decimal_string), Field(ge=0, max_digits=14, decimal_places=2),
                  WithJsonSchema(_money_schema(positive=False))]
PositiveMoney = Annotated[Decimal, BeforeValidator(_plain_decimal_string),
                          Field(gt=0, max_digits=14, decimal_places=2), WithJsonSchema(_money_schema(positive=True))]


class LineItem(RequestModel):
    description: str = Field(min_length=1, max_length=200)
    quantity: int = Field(1, ge=1, le=10_000)
    unit_price: Money


class InvoiceCreate(RequestModel):
    client_id: uuid.UUID
    return_id: uuid.UUID | None = None
    due_date: IsoDate | None = Field(None, description="default: 30 days after the invoice is sent")
    line_items: list[LineItem] = Field(min_length=1, max_length=100)


class InvoiceUpdate(PatchModel):
    not_clearable = frozenset({"line_items"})
    return_id: uuid.UUID | None = None
    due_date: IsoDate | None = None
    line_items: list[LineItem] | None = Field(None, min_length=1, max_length=100)


class PaymentCreate(RequestModel):
    amount: PositiveMoney
    payment_method: one_of(PAYMENT_METHODS)
    stripe_payment_intent_id: str | None = Field(None, max_length=255, pattern=r"^pi_[A-Za-z0-9_]+$")


# ---- read models ----------------------------------------------------------------------------------------------

class LineItemOut(ReadModel):
    description: str
    quantity: int
    unit_price: Amount
    amount: Amount


class InvoiceSummary(ReadModel):
    """An invoice as listed (LIST_SPEC.output_fields) and, with its payments, as read (InvoiceDetail)."""

    id: uuid.UUID
    invoice_number: str = Field(examples=["INV-2024-00042"])
    client_id: uuid.UUID
    return_id: uuid.UUID | None
    status: one_of(sorted(INVOICE_STATUSES))
    amount: Amount
    tax: Amount
    total: Amount
    amount_paid: Amount
    balance_due: Amount = Field(description="Negative when more was paid than billed (a refund is due)")
    due_date: date | None
    payment_link: str | None
    line_items: list[LineItemOut]
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None


class PaymentOut(ReadModel):
    id: uuid.UUID
    invoice_id: uuid.UUID
    amount: Amount
    payment_method: one_of(PAYMENT_METHODS)
    status: one_of(("completed", "failed"))
    source: one_of(("stripe", "manual"))
    stripe_payment_intent_id: str | None
    failure_message: str | None
    processed_at: datetime | None
    created_at: datetime


class InvoiceDetail(InvoiceSummary):
    payments: list[PaymentOut]


class InvoiceSent(ReadModel):
    """§9.5's answer. 202 (the payment provider is slow): `sent_at` and `payment_link` are null, and
    `invoice_number` and `due_date` are absent."""

    id: uuid.UUID
    invoice_number: str | None = None
    status: str
    sent_at: datetime | None
    due_date: date | None = None
    payment_link: str | None


class PaymentsMeta(Meta):
    total_paid: Amount
    balance_due: Amount


class PaymentList(ReadModel):
    """§9.7: the invoice's payments, with what they add up to in `meta`."""

    data: list[PaymentOut]
    meta: PaymentsMeta
    pagination: Pagination
