"""Invoices (spec §9), their payments and their history. Amounts are NUMERIC(14,2) read as Decimal."""

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, created_at_column, updated_at_column, uuid_pk

MONEY = Numeric(14, 2)


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("firm_id", "invoice_number", name="uq_invoices_firm_invoice_number"),
        Index("ix_invoices_firm_created", "firm_id", "created_at", "id"),
        Index("ix_invoices_client", "client_id", "created_at"),
        Index("ix_invoices_return", "return_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("clients.id"), nullable=False)
    return_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("tax_returns.id"))
    invoice_number: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="draft")
    # [{"description", "quantity": int, "unit_price": "400.00", "amount": "400.00"}]: money as strings in JSON.
    line_items: Mapped[list] = mapped_column(JSONB, nullable=False)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)  # sum of the line items
    tax: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal("0.00"))
    total: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    # Always the sum of the completed payments; updated in the transaction that records one.
    amount_paid: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal("0.00"))
    due_date: Mapped[date | None] = mapped_column(Date)
    payment_link: Mapped[str | None] = mapped_column(Text)
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    overdue_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    @property
    def balance_due(self) -> Decimal:
        return self.total - self.amount_paid


class InvoicePayment(Base):
    __tablename__ = "invoice_payments"
    __table_args__ = (
        # One completed payment per PaymentIntent in a firm, whichever of its events arrives first; failed
        # attempts of the same intent are kept as separate rows. Per firm: a staff member types an intent id on a
        # manual payment, and one firm must not be able to take another's id and block its webhook.
        Index("uq_invoice_payments_completed_intent", "firm_id", "stripe_payment_intent_id", unique=True,
              postgresql_where=text("status = 'completed' AND stripe_payment_intent_id IS NOT NULL")),
        Index("ix_invoice_payments_invoice", "invoice_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    invoice_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("invoices.id"), nullable=False)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    payment_method: Mapped[str] = mapped_column(String(30), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)  # completed | failed
    source: Mapped[str] = mapped_column(String(20), nullable=False)  # stripe | manual
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255))
    stripe_event_id: Mapped[str | None] = mapped_column(String(255))
    failure_message: Mapped[str | None] = mapped_column(String(500))
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    processed_at: Mapped[datetime] = created_at_column()
    created_at: Mapped[datetime] = created_at_column()


# Events that happen at most once in an invoice's life: their unique index makes the activities idempotent.
ONCE_EVENTS = ("sent", "mailed", "overdue", "reminder_7", "reminder_14", "reminder_30", "escalated", "voided", "paid")


class InvoiceHistory(Base):
    __tablename__ = "invoice_history"
    __table_args__ = (
        Index("uq_invoice_history_once", "invoice_id", "event", unique=True,
              postgresql_where=text("event IN (" + ", ".join(f"'{e}'" for e in ONCE_EVENTS) + ")")),
        Index("ix_invoice_history_invoice", "invoice_id", "occurred_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    invoice_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("invoices.id"), nullable=False)
    event: Mapped[str] = mapped_column(String(30), nullable=False)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    details: Mapped[dict | None] = mapped_column(JSONB)
    occurred_at: Mapped[datetime] = created_at_column()
