"""Identity verification (spec §12): one verification per attempt to verify a client at a tier, its steps, and
the one-time codes sent for its email and phone steps."""

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, ForeignKey, Index, Integer, LargeBinary, Numeric, SmallInteger, String, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, created_at_column, updated_at_column, uuid_pk


class IdentityVerification(Base):
    __tablename__ = "identity_verifications"
    __table_args__ = (Index("ix_identity_verifications_client", "client_id", "created_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("clients.id"), nullable=False)
    tier: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    # pending → in_progress → completed | needs_review | failed | expired
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    # [{"step": "email", "status": "pending"|"completed"|"needs_review"|"failed"|"expired", "confidence"?, …}]
    steps: Mapped[list] = mapped_column(JSONB, nullable=False)
    confidence_score: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    persona_inquiry_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    persona_inquiry_url: Mapped[str | None] = mapped_column(String(500))
    persona_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    video_session_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    video_scheduled_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    video_meet_link: Mapped[str | None] = mapped_column(String(200))
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    review_notes: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class VerificationCode(Base):
    """A six-digit one-time code sent by mail or SMS: valid 10 minutes, dead after 3 wrong tries or its use. Kept
    encrypted (the workflow's activity reads it to send it; the check compares it in constant time)."""

    __tablename__ = "identity_verification_codes"
    __table_args__ = (Index("ix_identity_verification_codes_sent", "verification_id", "channel", "created_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    verification_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("identity_verifications.id"), nullable=False)
    channel: Mapped[str] = mapped_column(String(10), nullable=False)  # email | phone
    delivery: Mapped[str] = mapped_column(String(10), nullable=False)  # email | sms | voice
    code_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    wrong_tries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
