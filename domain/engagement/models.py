"""Engagement letters (spec §10): what the firm will do for a client in a tax year and for what fee, signed by
the client before the work starts."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, created_at_column, updated_at_column, uuid_pk

ENGAGEMENT_STATUSES = ("draft", "pending_signature", "signed", "declined", "expired")
ENGAGEMENT_TYPES = ("tax_prep", "tax_planning", "bookkeeping", "advisory", "representation")
FEE_TYPES = ("fixed", "hourly", "fixed_plus_forms", "retainer")


class Engagement(Base):
    __tablename__ = "engagements"
    __table_args__ = (Index("ix_engagements_client_year", "firm_id", "client_id", "tax_year"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("clients.id"), nullable=False)
    tax_year: Mapped[int] = mapped_column(Integer, nullable=False)
    engagement_type: Mapped[str] = mapped_column(String(30), nullable=False)
    services: Mapped[list] = mapped_column(JSONB, nullable=False)
    fee_structure: Mapped[dict] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="draft")
    signature_request_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("signature_requests.id"))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    declined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
