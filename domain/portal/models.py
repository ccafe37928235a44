"""A portal connection, the linked accounts it mirrors, every item it imported, and each sync's record.

Items are keyed by (connection, portal account id, surface, portal item id): a re-sync updates in place, two
linked accounts never merge, and the same portal id in two accounts stays two rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, created_at_column, updated_at_column, uuid_pk
from domain.portal.lifecycle import SyncStatus

CONNECTION_STATUSES = ("active", "paused", "failing")
SYNC_STATUSES = tuple(s.value for s in SyncStatus)  # the lifecycle (domain/portal/lifecycle.py) is their one declaration


class PortalConnection(Base):
    __tablename__ = "portal_connections"
    __table_args__ = (Index("ix_portal_connections_firm", "firm_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("clients.id"), nullable=False)
    consent_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("consents.id"), nullable=False)
    base_url: Mapped[str] = mapped_column(String(300), nullable=False)
    # The recipient every pull is disclosed to, as the consent names the portal (its third_party_name).
    recipient: Mapped[str] = mapped_column(String(200), nullable=False)
    device_id: Mapped[str] = mapped_column(String(60), nullable=False)
    # AES-GCM (domain/crypto.py) bound to the connection id: never returned, never logged.
    email_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    password_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    totp_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The portal session (tokens, last TOTP step used) between activities and syncs: integrations/portal.SessionState.
    session_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    surfaces: Mapped[list[str]] = mapped_column(ARRAY(String(20)), nullable=False)
    schedule: Mapped[str] = mapped_column(String(100), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active")
    last_sync_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PortalAccount(Base):
    """A linked account of the connection's login, and the client of this firm it maps to."""

    __tablename__ = "portal_accounts"
    __table_args__ = (UniqueConstraint("connection_id", "portal_account_id", name="uq_portal_accounts_key"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    connection_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("portal_connections.id"),
                                                     nullable=False)
    portal_account_id: Mapped[str] = mapped_column(String(100), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    account_type: Mapped[str] = mapped_column(String(20), nullable=False)
    region: Mapped[str] = mapped_column(String(10), nullable=False)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("clients.id"), nullable=False)
    # How the client was found (docs/portal/mapping.md): connection_client | name_match | created
    matched_by: Mapped[str] = mapped_column(String(20), nullable=False)
    created_at: Mapped[datetime] = created_at_column()


class PortalItem(Base):
    """One imported item of a surface, as the portal last answered it (the protocol's fields only)."""

    __tablename__ = "portal_items"
    __table_args__ = (
        UniqueConstraint("connection_id", "portal_account_id", "surface", "portal_item_id",
                         name="uq_portal_items_key"),
        Index("ix_portal_items_client_surface", "firm_id", "client_id", "surface", "portal_updated_at", "id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    connection_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("portal_connections.id"),
                                                     nullable=False)
    portal_account_id: Mapped[str] = mapped_column(String(100), nullable=False)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("clients.id"), nullable=False)
    surface: Mapped[str] = mapped_column(String(20), nullable=False)  # documents … tasks; messages; threads
    portal_item_id: Mapped[str] = mapped_column(String(100), nullable=False)
    parent_item_id: Mapped[str | None] = mapped_column(String(100))  # a message's thread
    portal_updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    data: Mapped[dict] = mapped_column(JSONB, nullable=False)
    document_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("documents.id"))
    # The sync that created it and the last that changed it: a sync's counts are read from these, so a pull
    # resumed after a crash (which redoes the page it had not yet heartbeated) still counts each item once.
    first_sync_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    last_sync_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class PortalCursor(Base):
    """Where the next incremental read of one (surface, account) starts: the newest `updated_at` of its last
    complete walk (`updated_since` is inclusive, so an item changed in that same instant is read again, never
    missed)."""

    __tablename__ = "portal_cursors"
    __table_args__ = (UniqueConstraint("connection_id", "portal_account_id", "walk", name="uq_portal_cursors_key"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    connection_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("portal_connections.id"),
                                                     nullable=False)
    portal_account_id: Mapped[str] = mapped_column(String(100), nullable=False)
    walk: Mapped[str] = mapped_column(String(60), nullable=False)  # "invoices", "documents:firm_shared", "threads"
    updated_since: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class PortalSync(Base):
    __tablename__ = "portal_syncs"
    __table_args__ = (Index("ix_portal_syncs_connection", "connection_id", "started_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    connection_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("portal_connections.id"),
                                                     nullable=False)
    trigger: Mapped[str] = mapped_column(String(20), nullable=False)  # schedule | manual | cli
    workflow_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="running")
    error: Mapped[str | None] = mapped_column(String(500))
    # One entry per (surface, account): {surface, portal_account_id, status, seen, created, updated,
    # bytes_downloaded, error}
    results: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
    requests_made: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    started_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
