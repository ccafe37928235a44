"""What a sync writes: one page of a surface at a time, in one transaction, keyed by (connection, portal account,
surface, portal item id) so a re-sync updates in place and never duplicates. A document's bytes are in the
store before its page's transaction (activities/portal.py), and its row goes through the documents capability
(`record_imports`) with its folder area and path."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import func, insert, select

from domain import policy
from domain.context import ServiceContext
from domain.document.models import Document
from domain.document.service import ImportedDocument, document_key, record_imports, replace_imported_content
from domain.portal.models import PortalAccount, PortalConnection, PortalCursor, PortalItem

SOURCE = "portal"
_YEAR = re.compile(r"^((?:19|20)\d\d)(?:/|$)")


@dataclass(frozen=True)
class Incoming:
    """One item as the portal answered it: its protocol fields only (strict models drop the rest)."""

    portal_id: str
    updated_at: datetime
    data: dict
    parent_id: str | None = None


@dataclass(frozen=True)
class StoredContent:
    """A document's bytes, checked against the portal's SHA-256 and put in the store under `s3_key`."""

    document_id: uuid.UUID
    s3_key: str
    sha256: str
    size: int


@dataclass
class Counts:
    seen: int = 0
    created: int = 0
    updated: int = 0
    bytes_downloaded: int = 0
    changed_ids: list[str] = field(default_factory=list)

    def add(self, other: "Counts") -> None:
        self.seen += other.seen
        self.created += other.created
        self.updated += other.updated
        self.bytes_downloaded += other.bytes_downloaded


def document_tax_year(data: dict) -> int:
    """The year a portal document belongs to: its folder path's leading year ("2025/Income"), else the year it
    was uploaded (portals file by year; the path is the firm's own statement of it)."""
    match = _YEAR.match(data.get("path") or "")
    return int(match.group(1)) if match else int(data["uploaded_at"][:4])


def content_key(firm_id: uuid.UUID, client_id: uuid.UUID, document_id: uuid.UUID, sha256: str) -> str:
    """The first version under the documents capability's key; a changed one beside it (the old one is kept)."""
    return f"{document_key(firm_id, client_id, document_id)}.{sha256[:16]}"


async def known_items(session, connection_id: uuid.UUID, account_id: str, surface: str,
                      ids: list[str]) -> dict[str, PortalItem]:
    if not ids:
        return {}
    rows = await session.execute(select(PortalItem).where(
        PortalItem.connection_id == connection_id, PortalItem.portal_account_id == account_id,
        PortalItem.surface == surface, PortalItem.portal_item_id.in_(ids)))
    return {row.portal_item_id: row for row in rows.scalars()}


async def apply_page(ctx: ServiceContext, connection: PortalConnection, account: PortalAccount, surface: str,
                     items: list[Incoming], stored: dict[str, StoredContent], sync_id: uuid.UUID) -> Counts:
    """One page in the caller's transaction. New items (most of a first sync) are written one multi-row INSERT
    per table — documents, their history and audit rows, then the portal items — changed ones in place."""
    policy.require(ctx.principal, "portal.sync")
    counts = Counts()
    known = await known_items(ctx.session, connection.id, account.portal_account_id, surface,
                              [i.portal_id for i in items])
    created: list[dict] = []
    imports: list[ImportedDocument] = []
    now = datetime.now(timezone.utc)
    for item in items:
        counts.seen += 1
        row = known.get(item.portal_id)
        if row is None:
            document_id = None
            if surface == "documents":
                content = stored[item.portal_id]
                document_id = content.document_id
                imports.append(ImportedDocument(
                    document_id=document_id, client_id=account.client_id, tax_year=document_tax_year(item.data),
                    filename=item.data["name"], size=content.size, mime_type=item.data["content_type"],
                    sha256=content.sha256, s3_key=content.s3_key, source=SOURCE, folder_area=item.data["folder"],
                    folder_path=item.data["path"]))
            created.append({"id": uuid.uuid4(), "firm_id": connection.firm_id, "connection_id": connection.id,
                            "portal_account_id": account.portal_account_id, "client_id": account.client_id,
                            "surface": surface, "portal_item_id": item.portal_id, "parent_item_id": item.parent_id,
                            "portal_updated_at": item.updated_at, "data": item.data, "document_id": document_id,
                            "first_sync_id": sync_id, "last_sync_id": sync_id, "created_at": now,
                            "updated_at": now})
            counts.created += 1
            counts.changed_ids.append(item.portal_id)
            continue
        if row.data == item.data and row.portal_updated_at == item.updated_at:
            continue
        if surface == "documents":
            document = await ctx.session.get(Document, row.document_id)
            content = stored.get(item.portal_id)
            await replace_imported_content(
                ctx, document, filename=item.data["name"], size=content.size if content else document.file_size,
                mime_type=item.data["content_type"], sha256=content.sha256 if content else document.sha256,
                s3_key=content.s3_key if content else document.s3_key, folder_area=item.data["folder"],
                folder_path=item.data["path"])
        row.data, row.portal_updated_at, row.parent_item_id = item.data, item.updated_at, item.parent_id
        row.last_sync_id = sync_id
        counts.updated += 1
        counts.changed_ids.append(item.portal_id)
    await record_imports(ctx, imports)  # before the items that reference them
    if created:
        await ctx.session.execute(insert(PortalItem.__table__), created)
    await ctx.session.flush()
    return counts


async def sync_counts(session, sync_id: uuid.UUID, connection_id: uuid.UUID, account_id: str,
                      surface: str) -> tuple[int, int]:
    """(created, updated) by this sync in one (surface, account): read from the rows, so exact across resumes."""
    rows = await session.execute(select(
        func.count().filter(PortalItem.first_sync_id == sync_id),
        func.count().filter(PortalItem.last_sync_id == sync_id, PortalItem.first_sync_id != sync_id))
        .where(PortalItem.connection_id == connection_id, PortalItem.portal_account_id == account_id,
               PortalItem.surface == surface))
    created, updated = rows.one()
    return created, updated


async def cursor(session, connection_id: uuid.UUID, account_id: str, walk: str) -> datetime | None:
    row = (await session.execute(select(PortalCursor).where(
        PortalCursor.connection_id == connection_id, PortalCursor.portal_account_id == account_id,
        PortalCursor.walk == walk))).scalar_one_or_none()
    return row.updated_since if row else None


async def advance_cursor(session, connection_id: uuid.UUID, account_id: str, walk: str,
                         newest: datetime | None) -> None:
    """After a complete walk only: an interrupted one resumes from its page instead (the activity's heartbeat)."""
    if newest is None:
        return
    row = (await session.execute(select(PortalCursor).where(
        PortalCursor.connection_id == connection_id, PortalCursor.portal_account_id == account_id,
        PortalCursor.walk == walk))).scalar_one_or_none()
    if row is None:
        session.add(PortalCursor(connection_id=connection_id, portal_account_id=account_id, walk=walk,
                                 updated_since=newest))
    elif newest > row.updated_since:
        row.updated_since = newest
