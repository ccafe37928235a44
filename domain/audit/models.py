"""The append-only audit log. The database itself refuses UPDATE, DELETE and TRUNCATE (see the migration)."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, FetchedValue, ForeignKey, Index, Integer, LargeBinary, String, func
from sqlalchemy.dialects.postgresql import INET, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, created_at_column, uuid_pk


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_firm_time", "firm_id", "occurred_at", "id"),
        Index("ix_audit_log_firm_client_time", "firm_id", "client_id", "occurred_at"),
        Index("ix_audit_log_firm_actor_time", "firm_id", "actor_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    actor_role: Mapped[str] = mapped_column(String(20), nullable=False)
    action: Mapped[str] = mapped_column(String(80), nullable=False)  # e.g. client.create, client.read_pii
    resource_type: Mapped[str] = mapped_column(String(40), nullable=False)
    resource_id: Mapped[str | None] = mapped_column(String(80))
    client_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    correlation_id: Mapped[str | None] = mapped_column(String(200))
    request_id: Mapped[str | None] = mapped_column(String(64))
    ip_address: Mapped[str | None] = mapped_column(INET)
    details: Mapped[dict | None] = mapped_column(JSONB)
    # The hash chain (migrations 0012_audit_chain): written by the database's insert trigger, never by the app.
    # Each row's hash covers the previous row's hash of the same firm and the row's own content, so an edited,
    # inserted or removed row breaks every link after it (`taxpractice audit verify`, domain/audit/chain.py).
    chain_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=FetchedValue())
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, server_default=FetchedValue())
    row_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, server_default=FetchedValue())


class AuditExport(Base):
    """One export of the audit log to S3, produced by AuditExportWorkflow."""

    __tablename__ = "audit_exports"

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    requested_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="processing")
    format: Mapped[str] = mapped_column(String(10), nullable=False)
    start_date: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    end_date: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    filters: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict)
    s3_key: Mapped[str | None] = mapped_column(String(300))
    row_count: Mapped[int | None] = mapped_column(Integer)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = created_at_column()
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditChainCheck(Base):
    """One scheduled check of every firm's audit chain (domain/audit/anchor.py): the chain walked, and compared
    with the last anchor written outside the database. The app may only add and read these rows (migration 0016),
    so a recorded mismatch cannot be erased by the app's own role."""

    __tablename__ = "audit_chain_checks"
    __table_args__ = (Index("ix_audit_chain_checks_checked_at", "checked_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    firms: Mapped[int] = mapped_column(Integer, nullable=False)
    rows: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # The anchor object compared with (None: there was none yet, the first check).
    anchor_key: Mapped[str | None] = mapped_column(String(300))
    # One entry per broken firm: {"firm_id", "chain_seq", "audit_id", "reason"}; empty when every chain holds.
    breaks: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
