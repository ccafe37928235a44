"""Documents (spec §6): metadata, hash and status in Postgres; the bytes in S3 under a server-generated key.

A row and its object exist together or not at all: the upload writes the object first and deletes it again
if the row's transaction fails; a deleted document is soft-deleted and keeps its object for retention.
"""

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, created_at_column, updated_at_column, uuid_pk


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_firm_uploaded", "firm_id", "uploaded_at", "id"),
        Index("ix_documents_client_year", "client_id", "tax_year"),
        Index("ix_documents_return", "return_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("clients.id"), nullable=False)
    return_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("tax_returns.id"))
    tax_year: Mapped[int] = mapped_column(Integer, nullable=False)
    # None until classified; the uploader's hint is kept apart so classification can overrule it.
    document_type: Mapped[str | None] = mapped_column(String(30))
    document_subtype: Mapped[str | None] = mapped_column(String(50))
    type_hint: Mapped[str | None] = mapped_column(String(30))
    classification_confidence: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    classification_basis: Mapped[str | None] = mapped_column(String(20))  # content | hint | filename | staff
    # Employer, payer or lender named on the form: what the checklist matches against the prior year.
    issuer_name: Mapped[str | None] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    file_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    mime_type: Mapped[str] = mapped_column(String(100), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    s3_key: Mapped[str] = mapped_column(String(300), nullable=False)
    status: Mapped[str] = mapped_column(String(30), nullable=False, default="uploaded")
    review_reason: Mapped[str | None] = mapped_column(String(300))
    extraction_confidence: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    source: Mapped[str] = mapped_column(String(30), nullable=False)
    # Where an imported document sat at its source (a client portal): its area (client_uploaded, firm_shared,
    # organizer_attachments) and folder path inside it ("" for the area's root). Null for uploads.
    folder_area: Mapped[str | None] = mapped_column(String(30))
    folder_path: Mapped[str | None] = mapped_column(String(500))
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    uploaded_by_role: Mapped[str] = mapped_column(String(20), nullable=False)
    uploaded_at: Mapped[datetime] = created_at_column()
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sureprep_document_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    updated_at: Mapped[datetime] = updated_at_column()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class DocumentStatusHistory(Base):
    """Every status a document entered (and other steps of its processing), written by the workflow's activities."""

    __tablename__ = "document_status_history"

    id: Mapped[uuid.UUID] = uuid_pk()
    document_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("documents.id"), nullable=False, index=True)
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30), nullable=False)
    event: Mapped[str | None] = mapped_column(String(60))  # e.g. sureprep.sent, sureprep.refused_no_consent
    reason: Mapped[str | None] = mapped_column(String(300))
    occurred_at: Mapped[datetime] = created_at_column()


class DocumentExtraction(Base):
    """One extraction run over a document. Deleting it (spec §6.8) soft-deletes it so a fresh one can run;
    the old fields and their corrections stay for the record."""

    __tablename__ = "document_extractions"
    __table_args__ = (
        Index("uq_document_extractions_current", "document_id", unique=True,
              postgresql_where=text("deleted_at IS NULL")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    document_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("documents.id"), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)  # extracted | needs_review | verified
    source: Mapped[str] = mapped_column(String(30), nullable=False)  # builtin | sureprep
    overall_confidence: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    created_at: Mapped[datetime] = created_at_column()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class ExtractedField(Base):
    """One field of an extraction (Appendix B `extracted_field`); a correction keeps the extractor's value."""

    __tablename__ = "extracted_fields"
    __table_args__ = (UniqueConstraint("extraction_id", "field_name", name="uq_extracted_fields_name"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    extraction_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("document_extractions.id"), nullable=False, index=True)
    field_name: Mapped[str] = mapped_column(String(60), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    value: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[Decimal] = mapped_column(Numeric(4, 3), nullable=False)
    needs_review: Mapped[bool] = mapped_column(Boolean, nullable=False)
    source: Mapped[str] = mapped_column(String(30), nullable=False)
    original_value: Mapped[str | None] = mapped_column(Text)
    corrected_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    corrected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    verified_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PendingDocument(Base):
    """An upload-first document (spec §6.10): stored before its client exists, grouped by the caller's batch id."""

    __tablename__ = "pending_documents"
    __table_args__ = (
        Index("ix_pending_documents_batch", "firm_id", "upload_batch_id"),
        # A SmartVault document is imported once, however often its webhook arrives.
        UniqueConstraint("firm_id", "source", "external_ref", name="uq_pending_documents_external"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    upload_batch_id: Mapped[str] = mapped_column(String(100), nullable=False)
    original_filename: Mapped[str] = mapped_column(String(255), nullable=False)
    file_size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    mime_type: Mapped[str] = mapped_column(String(100), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    s3_key: Mapped[str] = mapped_column(String(300), nullable=False)
    document_type: Mapped[str | None] = mapped_column(String(30))
    tax_year: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(30), nullable=False)  # staff_upload | smartvault
    external_ref: Mapped[str | None] = mapped_column(String(100))
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    uploaded_at: Mapped[datetime] = created_at_column()
    assigned_document_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("documents.id"))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SurePrepBinder(Base):
    """The SurePrep binder of one client's tax year: where that year's documents are sent for OCR."""

    __tablename__ = "sureprep_binders"
    __table_args__ = (UniqueConstraint("client_id", "tax_year", name="uq_sureprep_binders_client_year"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("clients.id"), nullable=False)
    tax_year: Mapped[int] = mapped_column(Integer, nullable=False)
    external_binder_id: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    status: Mapped[str] = mapped_column(String(30), nullable=False, default="created")
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class IntegrationAccount(Base):
    """Which firm a third-party account belongs to, so a webhook naming the account reaches the right firm."""

    __tablename__ = "integration_accounts"
    __table_args__ = (UniqueConstraint("provider", "account_id", name="uq_integration_accounts_provider_account"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    provider: Mapped[str] = mapped_column(String(30), nullable=False)
    account_id: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
