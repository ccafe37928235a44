"""Outbound webhooks: a firm's endpoints, one delivery per (endpoint, event), and every attempt of it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (ARRAY, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, text)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, created_at_column, updated_at_column, uuid_pk

PAYLOADS = ("thin", "full")
DELIVERY_STATUSES = ("pending", "succeeded", "failed", "abandoned")


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_firm", "firm_id", "created_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    description: Mapped[str | None] = mapped_column(String(500))
    events: Mapped[list[str]] = mapped_column(ARRAY(String(60)), nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # Why the system disabled it (gone: it answered 410; failing: every attempt failed for 5 days); None when an
    # admin did, or it is enabled.
    disabled_reason: Mapped[str | None] = mapped_column(String(40))
    # The signing secret (`whsec_…`), sealed with the field cipher (domain/crypto.py), the endpoint id as
    # associated data so a ciphertext cannot be moved to another endpoint.
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    # After a rotation the old secret signs alongside the new one until `previous_secret_until`.
    previous_secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payload: Mapped[str] = mapped_column(String(10), nullable=False, default="thin")  # thin | full
    # A full payload is return information: the signed consent naming the recipient (docs/webhooks-outbound.md).
    consent_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("consents.id"))
    recipient: Mapped[str | None] = mapped_column(String(200))
    # Since when every attempt to it has failed (None: its last attempt succeeded, or none was made).
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class WebhookDelivery(Base):
    """One event to one endpoint, delivered by one workflow (`webhook-delivery:<id>`). A redelivery an admin asks
    for is a delivery of its own (`redelivery_of`), with the same event and so the same `webhook-id`."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The fan-out makes one delivery per (endpoint, event); a second fan-out of the event finds it.
        Index("uq_webhook_deliveries_endpoint_event", "endpoint_id", "event_id", unique=True,
              postgresql_where=text("redelivery_of IS NULL")),
        Index("ix_webhook_deliveries_endpoint_time", "endpoint_id", "created_at", "id"),
        # An event's deliveries (the retention prune; the foreign key's check when an event goes), and a
        # delivery's redeliveries (the self-referencing key's check when a delivery goes).
        Index("ix_webhook_deliveries_event", "event_id"),
        Index("ix_webhook_deliveries_redelivery_of", "redelivery_of",
              postgresql_where=text("redelivery_of IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("domain_events.id"), nullable=False)
    event_type: Mapped[str] = mapped_column(String(60), nullable=False)
    redelivery_of: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("webhook_deliveries.id"))
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    attempt_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()


class WebhookAttempt(Base):
    """One HTTP request of a delivery (or one refused before it was made: a target that now resolves to a
    forbidden address), as the delivery log shows it."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "attempted_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False)
    number: Mapped[int] = mapped_column(Integer, nullable=False)  # its place in the retry schedule, from 1
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer)  # None: no answer (timeout, refused, unreachable)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    succeeded: Mapped[bool] = mapped_column(Boolean, nullable=False)
