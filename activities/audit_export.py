"""Activities of the audit export: write the rows to S3 as JSON or CSV, record the outcome in Postgres.

Idempotent: the S3 key is derived from the export id, so a retried attempt overwrites the same object, and
the status update is a plain overwrite of the same values.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import tempfile
import uuid

from pydantic import BaseModel
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.audit.models import AuditEntry, AuditExport
from domain.audit.service import complete_export, export_conditions, mark_export_failed
from domain.context import ServiceContext
from integrations.providers import ObjectStorage
from orchestration.audit_export import AuditExportInput

# The system actor's source, as the audit log names it.
SOURCE = "audit_export"

PAGE_ROWS = 5_000
COLUMNS = ["id", "occurred_at", "user_id", "actor_role", "event_type", "resource_type", "resource_id", "client_id",
           "correlation_id", "request_id", "ip_address", "details"]

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection). Caller-controlled text
# reaches the audit log (a correlation id, a resource id): such a cell is written with a leading quote, as the
# OWASP guidance has it, so it opens as the text it is.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class AuditExportResult(BaseModel):
    s3_key: str
    row_count: int
    size_bytes: int


class AuditExportFailure(BaseModel):
    export_id: uuid.UUID
    error: str


def export_key(export: AuditExport) -> str:
    return f"exports/audit/{export.firm_id}/{export.id}.{export.format}"


def row_dict(entry: AuditEntry) -> dict:
    return {
        "id": entry.id,
        "occurred_at": entry.occurred_at.isoformat(),
        "user_id": str(entry.actor_id) if entry.actor_id else None,
        "actor_role": entry.actor_role,
        "event_type": entry.action,
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id,
        "client_id": str(entry.client_id) if entry.client_id else None,
        "correlation_id": entry.correlation_id,
        "request_id": entry.request_id,
        "ip_address": str(entry.ip_address) if entry.ip_address else None,
        "details": entry.details,
    }


class AuditExportActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], storage: ObjectStorage):
        self.sessionmaker, self.storage = sessionmaker, storage

    async def _rows(self, export: AuditExport):
        """Keyset pages of the matching rows, so a million-row export never holds them all in memory."""
        filters = {k: (uuid.UUID(v) if k in ("user_id", "client_id") else v) for k, v in export.filters.items()}
        conditions = export_conditions(export.firm_id, export.start_date, export.end_date, filters)
        last = None
        while True:
            async with self.sessionmaker() as session:
                stmt = select(AuditEntry).where(*conditions)
                if last is not None:
                    stmt = stmt.where(tuple_(AuditEntry.occurred_at, AuditEntry.id) > last)
                page = (await session.execute(
                    stmt.order_by(AuditEntry.occurred_at, AuditEntry.id).limit(PAGE_ROWS))).scalars().all()
            if not page:
                return
            for entry in page:
                yield row_dict(entry)
            last = (page[-1].occurred_at, page[-1].id)
            activity.heartbeat(last[1])

    @activity.defn(name="audit_export.write")
    async def write_export(self, data: AuditExportInput) -> AuditExportResult:
        async with self.sessionmaker() as session:
            export = await session.get(AuditExport, data.export_id)
        count = 0
        # Spooled to a temporary file and uploaded with multipart: bounded memory at any size.
        with tempfile.TemporaryFile() as spool:
            text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
            if export.format == "csv":
                writer = csv.DictWriter(text, fieldnames=COLUMNS)
                writer.writeheader()
                async for row in self._rows(export):
                    writer.writerow({key: _inert(value) for key, value in {
                        **row, "details": json.dumps(row["details"]) if row["details"] else ""}.items()})
                    count += 1
            else:
                text.write("[")
                async for row in self._rows(export):
                    text.write(("," if count else "") + "\n" + json.dumps(row))
                    count += 1
                text.write("\n]\n")
            text.flush()
            # Detach before uploading: boto3 closes the file it uploads, and a wrapper still attached to a
            # closed file fails on detach (or closes it again when collected).
            text.detach()
            size = spool.tell()
            spool.seek(0)
            key = export_key(export)
            content_type = "text/csv" if export.format == "csv" else "application/json"
            # boto3 blocks: off the event loop, so heartbeats and other activities keep going.
            await asyncio.to_thread(self.storage.upload_stream, key, spool, content_type)
        async with self.sessionmaker.begin() as session:
            await complete_export(ServiceContext.for_system(session, export.firm_id, SOURCE), export.id, key, count,
                                  size)
        return AuditExportResult(s3_key=key, row_count=count, size_bytes=size)

    @activity.defn(name="audit_export.mark_failed")
    async def mark_failed(self, data: AuditExportFailure) -> None:
        async with self.sessionmaker.begin() as session:
            await mark_export_failed(session, data.export_id, data.error)
