"""Clients of the firm and their contacts. The SSN is stored encrypted; only its last four digits in clear."""

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean, Computed, Date, DateTime, ForeignKey, Index, LargeBinary, String, UniqueConstraint, func, text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR, UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, created_at_column, updated_at_column, uuid_pk

# Word-prefix search over name, email (split at its punctuation) and account number; see docs/api-conventions.md.
SEARCH_VECTOR_SQL = (
    "to_tsvector('simple', coalesce(name, '') || ' ' || "
    "regexp_replace(coalesce(email, ''), '[@._+-]', ' ', 'g') || ' ' || coalesce(email, '') || ' ' || "
    "account_number || ' ' || replace(account_number, '-', ' '))"
)


class Client(Base):
    __tablename__ = "clients"
    __table_args__ = (
        UniqueConstraint("firm_id", "account_number", name="uq_clients_firm_account_number"),
        Index("ix_clients_search_vector", "search_vector", postgresql_using="gin"),
        # Keyset pagination over the default order (created_at, id) within a firm.
        Index("ix_clients_firm_created", "firm_id", "created_at", "id"),
        Index("ix_clients_firm_name", "firm_id", "name", "id"),
        Index("ix_clients_firm_preparer", "firm_id", "assigned_preparer_id", "created_at", "id"),
        Index("ix_clients_email_lower", func.lower(text("email"))),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    account_number: Mapped[str] = mapped_column(String(20), nullable=False)
    client_type: Mapped[str] = mapped_column(String(20), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[dict | None] = mapped_column(JSONB)
    ssn_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    ssn_last4: Mapped[str | None] = mapped_column(String(4))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active")
    identity_verification_status: Mapped[str] = mapped_column(String(20), nullable=False, default="unverified")
    assigned_preparer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    search_vector = mapped_column(TSVECTOR, Computed(SEARCH_VECTOR_SQL, persisted=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ClientContact(Base):
    __tablename__ = "client_contacts"
    __table_args__ = (
        # One primary contact per client: making another one primary demotes the first (domain/client/service.py);
        # the index holds it when two requests do that at once (the second is a 409).
        Index("uq_client_contacts_primary", "client_id", unique=True,
              postgresql_where=text("is_primary AND deleted_at IS NULL")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("clients.id"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    relationship: Mapped[str | None] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    is_primary: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
