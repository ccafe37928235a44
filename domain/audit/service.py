"""Querying the audit log and preparing its export (spec §14.3). Writing happens through ServiceContext.audit."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import func, select, update

from domain import policy
from domain.audit.models import AuditEntry, AuditExport
from domain.context import ServiceContext
from domain.errors import FieldError, NotFound, ValidationFailed
from domain.listing import Filterable, ListQuery, ListSpec, Page, PARSERS, paginate

AUDIT_LIST_SPEC = ListSpec(
    filters={
        "user_id": Filterable(AuditEntry.actor_id, uuid.UUID),
        "client_id": Filterable(AuditEntry.client_id, uuid.UUID),
        "event_type": Filterable(AuditEntry.action),
        "resource_type": Filterable(AuditEntry.resource_type),
        "resource_id": Filterable(AuditEntry.resource_id),
        "occurred_at": Filterable(AuditEntry.occurred_at, datetime, ("gte", "lte")),
    },
    sortable={"occurred_at": AuditEntry.occurred_at},
    id_column=AuditEntry.id,
    default_sort="-occurred_at",
    output_fields=frozenset({"id", "occurred_at", "user_id", "actor_role", "event_type", "resource_type",
                             "resource_id", "client_id", "correlation_id", "request_id", "ip_address", "details"}),
    extra_params=frozenset({"start_date", "end_date"}),
)

# Filters an export accepts, by the same names as the query endpoint.
EXPORT_FILTERS = {"user_id": AuditEntry.actor_id, "client_id": AuditEntry.client_id,
                  "event_type": AuditEntry.action, "resource_type": AuditEntry.resource_type}
APPROX_BYTES_PER_ROW = {"json": 420, "csv": 260}
EXPORT_FORMATS = tuple(APPROX_BYTES_PER_ROW)  # api/schemas/admin.py reads it


def _date_param(name: str, raw: str) -> datetime:
    try:
        return PARSERS[datetime](raw)
    except ValueError:
        raise ValidationFailed(errors=[FieldError(name, "invalid_format", f"{name} must be an ISO 8601 datetime")])


async def query_audit(ctx: ServiceContext, query: ListQuery) -> Page:
    policy.require(ctx.principal, "admin.audit")
    stmt = select(AuditEntry).where(AuditEntry.firm_id == ctx.principal.firm_id)
    if "start_date" in query.extras:
        stmt = stmt.where(AuditEntry.occurred_at >= _date_param("start_date", query.extras["start_date"]))
    if "end_date" in query.extras:
        stmt = stmt.where(AuditEntry.occurred_at <= _date_param("end_date", query.extras["end_date"]))
    return await paginate(ctx.session, stmt, query, AUDIT_LIST_SPEC)


def export_conditions(firm_id: uuid.UUID, start: datetime, end: datetime, filters: dict) -> list:
    conditions = [AuditEntry.firm_id == firm_id, AuditEntry.occurred_at >= start, AuditEntry.occurred_at <= end]
    for name, value in filters.items():
        conditions.append(EXPORT_FILTERS[name] == value)
    return conditions


async def create_export(ctx: ServiceContext, start: datetime, end: datetime, fmt: str,
                        filters: dict) -> tuple[AuditExport, int]:
    """Record the export request; the caller starts its workflow after this transaction commits."""
    policy.require(ctx.principal, "admin.audit")
    if end < start:
        raise ValidationFailed(errors=[FieldError("end_date", "before_start", "end_date is before start_date")])
    stored_filters = {k: str(v) for k, v in filters.items()}
    rows = (await ctx.session.execute(select(func.count()).where(
        *export_conditions(ctx.principal.firm_id, start, end, filters)))).scalar_one()
    export = AuditExport(id=uuid.uuid4(), firm_id=ctx.principal.firm_id, requested_by=ctx.principal.subject_id,
                         status="processing", format=fmt, start_date=start, end_date=end, filters=stored_filters)
    ctx.session.add(export)
    await ctx.session.flush()
    await ctx.audit("audit.export", "audit_export", export.id, details={"format": fmt, "filters": stored_filters})
    return export, rows


async def complete_export(ctx: ServiceContext, export_id: uuid.UUID, s3_key: str, row_count: int,
                          size_bytes: int) -> None:
    """The export's workflow wrote its file (the system actor). A plain overwrite: a retry writes the same."""
    policy.require(ctx.principal, "audit.export_write")
    await ctx.session.execute(update(AuditExport).where(
        AuditExport.id == export_id, AuditExport.firm_id == ctx.principal.firm_id).values(
        status="completed", s3_key=s3_key, row_count=row_count, size_bytes=size_bytes,
        completed_at=datetime.now(timezone.utc)))


async def mark_export_failed(session, export_id: uuid.UUID, error: str) -> None:
    await session.execute(update(AuditExport).where(AuditExport.id == export_id).values(
        status="failed", error=error[:500], completed_at=datetime.now(timezone.utc)))


async def get_export(ctx: ServiceContext, export_id: uuid.UUID) -> AuditExport:
    policy.require(ctx.principal, "admin.audit")
    export = await ctx.session.get(AuditExport, export_id)
    if export is None or export.firm_id != ctx.principal.firm_id:
        raise NotFound("Audit export")
    return export
