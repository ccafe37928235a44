"""Estimated tax payment schedules (spec §11.6): one schedule per return and tax year, four quarters each."""

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, created_at_column, updated_at_column, uuid_pk

MONEY = Numeric(14, 2)


class EstimatedPaymentSchedule(Base):
    __tablename__ = "estimated_payment_schedules"
    __table_args__ = (
        # One live schedule per return and tax year; a cancelled one can be replaced.
        Index("uq_estimated_payment_schedules_live", "return_id", "tax_year", unique=True,
              postgresql_where=text("status <> 'cancelled'")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("clients.id"), nullable=False)
    return_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("tax_returns.id"), nullable=False)
    tax_year: Mapped[int] = mapped_column(Integer, nullable=False)
    federal_annual: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    state_annual: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    payment_method: Mapped[str] = mapped_column(String(30), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active")  # active | cancelled
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class EstimatedPayment(Base):
    __tablename__ = "estimated_payments"
    __table_args__ = (
        UniqueConstraint("schedule_id", "quarter", name="uq_estimated_payments_schedule_quarter"),
        Index("ix_estimated_payments_return", "return_id", "due_date"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    schedule_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("estimated_payment_schedules.id"), nullable=False)
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("clients.id"), nullable=False)
    return_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("tax_returns.id"), nullable=False)
    quarter: Mapped[int] = mapped_column(Integer, nullable=False)
    due_date: Mapped[date] = mapped_column(Date, nullable=False)
    federal_amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    state_amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="scheduled")
    reminder_sent: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminder_type: Mapped[str | None] = mapped_column(String(20))
    confirmation_number: Mapped[str | None] = mapped_column(String(100))
    payment_date: Mapped[date | None] = mapped_column(Date)
    payment_method: Mapped[str | None] = mapped_column(String(30))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class EstimatedPaymentReminder(Base):
    """One row per reminder sent (automatic or on request); the unique key makes automatic ones idempotent."""

    __tablename__ = "estimated_payment_reminders"
    __table_args__ = (
        # `scheduled_for` is the timer's instant for automatic reminders, NULL for ones a person asked for.
        Index("uq_estimated_payment_reminders_auto", "payment_id", "reminder_type", "scheduled_for", unique=True,
              postgresql_where=text("scheduled_for IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    payment_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("estimated_payments.id"), nullable=False, index=True)
    reminder_type: Mapped[str] = mapped_column(String(20), nullable=False)
    channels: Mapped[str] = mapped_column(String(40), nullable=False)  # "email,sms"
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime] = created_at_column()
