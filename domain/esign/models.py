"""A signature request: one document sent to one signer through the e-signature provider, and what came back.

`subject_type`/`subject_id` name what is being signed (an engagement, a consent, a return's Form 8879). The
unsigned PDF's SHA-256 is recorded when it is sent; a completion is accepted only with evidence for that same
hash (domain/esign/evidence.py), so no signed status exists without its evidence."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, created_at_column, uuid_pk

SUBJECT_TYPES = ("engagement", "consent", "form_8879")
# sending: the PDF is stored and the provider is being asked; sent: the signer has the link.
OPEN_STATUSES = ("sending", "sent")
FINAL_STATUSES = ("completed", "declined", "expired", "canceled")


class SignatureRequest(Base):
    __tablename__ = "signature_requests"
    __table_args__ = (
        Index("ix_signature_requests_subject", "subject_type", "subject_id"),
        # At most one live request per subject: a retried send finds it instead of mailing a second link.
        Index("uq_signature_requests_live_subject", "subject_type", "subject_id", unique=True,
              postgresql_where=text("status IN ('sending', 'sent', 'completed')")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("clients.id"), nullable=False)
    subject_type: Mapped[str] = mapped_column(String(20), nullable=False)
    subject_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    provider: Mapped[str] = mapped_column(String(30), nullable=False, default="google")
    provider_request_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="sending")
    signer_name: Mapped[str] = mapped_column(String(200), nullable=False)
    signer_email: Mapped[str] = mapped_column(String(320), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    document_key: Mapped[str] = mapped_column(String(300), nullable=False)  # the unsigned PDF in S3
    document_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    # The sealed PDF (certificate of completion appended, PAdES signature) once stored.
    signed_document_key: Mapped[str | None] = mapped_column(String(300))
    signed_document_sha256: Mapped[str | None] = mapped_column(String(64))
    # The documents row the signed PDF is kept as (ENGAGEMENT_LETTER, FORM_7216, FORM_8879).
    signed_document_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("documents.id"))
    # What the provider kept: signer, IP, user agent, typed name, ESIGN consent, each event's time.
    evidence: Mapped[dict | None] = mapped_column(JSONB)
    declined_reason: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
