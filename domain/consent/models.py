"""Form 7216 consents (spec §10): the client's written permission before return information is disclosed to a
third party. The full lifecycle (send for signature, revoke) belongs to the consents capability; this table
and its fields are the contract that capability builds on."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, created_at_column, uuid_pk

CONSENT_STATUSES = ("pending", "sent", "signed", "revoked", "expired")


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_client", "client_id", "status"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("clients.id"), nullable=False)
    tax_year: Mapped[int] = mapped_column(Integer, nullable=False)
    consent_scope: Mapped[str] = mapped_column(String(200), nullable=False)
    third_party_name: Mapped[str] = mapped_column(String(200), nullable=False)
    disclosure_purpose: Mapped[str] = mapped_column(String(500), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
