"""The tax return record (spec §5.2). Its lifecycle is driven by TaxReturnWorkflow; Postgres is the read model."""

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, created_at_column, updated_at_column, uuid_pk


class TaxReturn(Base):
    __tablename__ = "tax_returns"
    __table_args__ = (
        Index("ix_tax_returns_firm_created", "firm_id", "created_at", "id"),
        Index("ix_tax_returns_client", "client_id", "tax_year"),
        Index("ix_tax_returns_firm_status", "firm_id", "status"),
        Index("ix_tax_returns_firm_preparer", "firm_id", "assigned_preparer_id"),
        # One live return per client, year and type: a retried create is a 409, not a second return.
        Index("uq_tax_returns_client_year_type", "client_id", "tax_year", "return_type", unique=True,
              postgresql_where=text("deleted_at IS NULL")),
        Index("ix_tax_returns_firm_stuck", "firm_id", "stuck_since", postgresql_where=text("stuck_since IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("clients.id"), nullable=False)
    tax_year: Mapped[int] = mapped_column(Integer, nullable=False)
    return_type: Mapped[str] = mapped_column(String(10), nullable=False)
    filing_status: Mapped[str | None] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(30), nullable=False, default="intake")
    status_entered_at: Mapped[datetime] = created_at_column()
    assigned_preparer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    assigned_reviewer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    extension_filed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    extension_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date, nullable=False)
    priority: Mapped[str] = mapped_column(String(10), nullable=False, default="normal")
    estimated_refund: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    estimated_tax_due: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    federal_status: Mapped[str] = mapped_column(String(30), nullable=False, default="not_started")
    state_filings: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
    # Set while the return has been in its status longer than the status's time budget.
    stuck_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PreparerNote(Base):
    """Appendix B: staff notes on a return, optionally about one document. Never shown to clients."""

    __tablename__ = "preparer_notes"
    __table_args__ = (Index("ix_preparer_notes_return", "return_id", "created_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    return_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("tax_returns.id"), nullable=False)
    # No foreign key: documents are another capability's table; the id is checked there when it exists.
    document_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    note_text: Mapped[str] = mapped_column(Text, nullable=False)
    author_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReturnReminder(Base):
    """A deadline reminder that was sent: the unique key makes the sending activity idempotent, and a moved
    deadline (extension) gets its own reminders."""

    __tablename__ = "tax_return_reminders"
    __table_args__ = (UniqueConstraint("return_id", "deadline", "days_before", name="uq_tax_return_reminders_key"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    return_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("tax_returns.id"), nullable=False)
    deadline: Mapped[date] = mapped_column(Date, nullable=False)
    days_before: Mapped[int] = mapped_column(Integer, nullable=False)
    recipient_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    sent_at: Mapped[datetime] = created_at_column()


class AiAnalysis(Base):
    """One analysis of a return (spec §5.8–5.9), run as work of the return's workflow."""

    __tablename__ = "ai_analyses"
    __table_args__ = (Index("ix_ai_analyses_return", "return_id", "created_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    return_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("tax_returns.id"), nullable=False)
    analysis_type: Mapped[str] = mapped_column(String(30), nullable=False)
    include_prior_year_comparison: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="processing")
    analyzer: Mapped[str | None] = mapped_column(String(40))
    findings: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
    suggested_questions: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
    error: Mapped[str | None] = mapped_column(String(500))
    requested_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = created_at_column()
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

