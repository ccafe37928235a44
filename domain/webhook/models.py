"""The ledger of inbound webhooks: one row per (source, provider event id), written in the transaction that
applies the event, so an event is applied exactly once however often (or however concurrently) it is delivered."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, created_at_column, uuid_pk


class InboundWebhook(Base):
    __tablename__ = "inbound_webhooks"
    __table_args__ = (UniqueConstraint("source", "event_id", name="uq_inbound_webhooks_source_event"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    source: Mapped[str] = mapped_column(String(30), nullable=False)  # stripe | sureprep | smartvault
    event_id: Mapped[str] = mapped_column(String(255), nullable=False)  # the provider's (evt_…)
    event_type: Mapped[str] = mapped_column(String(100), nullable=False)
    # How the delivery was authenticated. Only verified deliveries are recorded: one whose signature fails is
    # refused before anything is written, so a forger cannot fill the ledger.
    signature: Mapped[str] = mapped_column(String(30), nullable=False)
    # "received" while its transaction runs; then what it did, provider's words (payment_recorded, applied,
    # rejected, stale, ignored_*), with the reason when refused.
    outcome: Mapped[str] = mapped_column(String(40), nullable=False)
    reason: Mapped[str | None] = mapped_column(String(300))
    firm_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))  # when the event names one we know
    # The entity the event concerns, once known (an invoice for Stripe).
    entity_type: Mapped[str | None] = mapped_column(String(30))
    entity_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the provider's `created`
    payload: Mapped[dict] = mapped_column(JSONB, nullable=False)  # redacted (domain/webhook/redaction.py)
    received_at: Mapped[datetime] = created_at_column()
