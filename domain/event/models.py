"""Domain events: one row per change a webhook may report, written in the transaction of the change."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, utcnow, uuid_pk


class DomainEvent(Base):
    __tablename__ = "domain_events"
    __table_args__ = (
        # The fan-out reads only the events not fanned out yet (domain/outbound_webhook/fan_out.py).
        Index("ix_domain_events_pending", "occurred_at", postgresql_where=text("fanned_out_at IS NULL")),
        Index("ix_domain_events_entity", "firm_id", "entity_type", "entity_id"),
        # The retention prune reads the fanned-out events oldest first (domain/outbound_webhook/retention.py).
        Index("ix_domain_events_fanned_out", "occurred_at", postgresql_where=text("fanned_out_at IS NOT NULL")),
    )

    # Also the `webhook-id` of every delivery of it: a receiver deduplicates on it, across retries.
    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    type: Mapped[str] = mapped_column(String(60), nullable=False)  # a name of domain.event.catalogue.CATALOGUE
    entity_type: Mapped[str] = mapped_column(String(40), nullable=False)
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    # The client the entity belongs to: what the disclosure gate asks about for a full payload.
    client_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    data: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict)  # thin: the type's fields only
    fanned_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
