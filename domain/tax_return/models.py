"""The tax return record (spec §5.2). Its lifecycle is driven by TaxReturnWorkflow; Postgres is the read model."""

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, Numeric, String
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
