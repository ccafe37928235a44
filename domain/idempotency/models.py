"""Stored responses for X-Idempotency-Key (Stripe's semantics: same key and body replays; kept 24 h, then purged)."""

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, LargeBinary, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, created_at_column


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    # The scheduled purge deletes by age (domain/idempotency/service.purge_expired).
    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)

    # The caller's identity (user, portal session or client address) scopes the key, as Stripe scopes by account.
    principal: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    method: Mapped[str] = mapped_column(String(10), nullable=False)
    path: Mapped[str] = mapped_column(String(500), nullable=False)
    # HMAC-SHA256 of the request under IDEMPOTENCY_HASH_KEY (never a plain digest: it would give the body away).
    request_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer)  # NULL while the first request is in flight
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)  # AES-256-GCM, bound to this record
    response_headers: Mapped[dict | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at_column()
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
