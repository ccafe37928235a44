"""The disclosure log: one row per decision of the gate, allowed or refused, never updated or deleted (the app's
database role may only insert and read it, as with the audit log)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, utcnow, uuid_pk


class DisclosureLogEntry(Base):
    __tablename__ = "disclosure_log"
    __table_args__ = (Index("ix_disclosure_log_client_time", "firm_id", "client_id", "occurred_at", "id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("clients.id"), nullable=False)
    recipient: Mapped[str] = mapped_column(String(200), nullable=False)
    purpose: Mapped[str] = mapped_column(String(40), nullable=False)
    # What left (or would have), named without its contents: "document", "portal.invoices", "efile.federal".
    information: Mapped[str] = mapped_column(String(200), nullable=False)
    tax_year: Mapped[int | None] = mapped_column(Integer)
    entity_type: Mapped[str | None] = mapped_column(String(40))
    entity_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    allowed: Mapped[bool] = mapped_column(Boolean, nullable=False)
    # consent | exception | none (a refusal found no basis)
    basis: Mapped[str] = mapped_column(String(20), nullable=False)
    consent_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("consents.id"))
    regulatory_exception: Mapped[str | None] = mapped_column(String(40))
    # Why a refusal: no_consent | consent_not_signed | consent_expired | consent_revoked
    refusal_reason: Mapped[str | None] = mapped_column(String(40))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    actor_role: Mapped[str] = mapped_column(String(20), nullable=False)
    system_source: Mapped[str | None] = mapped_column(String(60))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
