"""Admin API (spec §14): users, configuration, audit log query and export, detailed health."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import StreamingResponse

from api import envelope, health_checks
from api.deps import Ctx, State
from api.json_route import JSONRoute
from api.openapi import One, answers, list_of
from api.request_context import meta
from api.schemas.admin import (
    AuditChainChecksOut, AuditEntryOut, AuditExportRequest, ConfigOut, ConfigUpdate, ExportAccepted, ExportOut,
    UserCreate, UserOut, UserUpdate,
)
from api.schemas.base import patch_changes
from api.schemas.health import DetailedHealth
from api.v1.auth import link_mail
from api.v1.client import iso
from domain import policy
from domain.audit import service as audit
from domain.audit.anchor import checks_for_firm
from domain.audit.models import AuditEntry, AuditExport
from domain.config.models import SystemConfig
from domain.config.service import get_config, update_config
from domain.errors import Conflict
from domain.listing import parse_list_query
from domain.user import service as users
from domain.user.models import User
from orchestration import audit_export as audit_export_workflow

router = APIRouter(route_class=JSONRoute, prefix="/admin", tags=["admin"])


def user_out(user: User) -> dict:
    return {
        "id": str(user.id), "email": user.email, "full_name": user.full_name, "role": user.role,
        "ptin": user.ptin, "is_active": user.is_active, "mfa_enrolled": user.password_hash is not None,
        "created_at": iso(user.created_at), "updated_at": iso(user.updated_at),
    }


def config_out(config: SystemConfig) -> dict:
    return {"session_timeout_minutes": config.session_timeout_minutes, "mfa_required": config.mfa_required,
            "failed_login_lockout_attempts": config.failed_login_lockout_attempts,
            "engagement_required_before_prep": config.engagement_required_before_prep,
            "updated_at": iso(config.updated_at)}


def audit_out(entry: AuditEntry) -> dict:
    return {
        "id": entry.id, "occurred_at": iso(entry.occurred_at),
        "user_id": str(entry.actor_id) if entry.actor_id else None, "actor_role": entry.actor_role,
        "event_type": entry.action, "resource_type": entry.resource_type, "resource_id": entry.resource_id,
        "client_id": str(entry.client_id) if entry.client_id else None, "correlation_id": entry.correlation_id,
        "request_id": entry.request_id, "ip_address": str(entry.ip_address) if entry.ip_address else None,
        "details": entry.details,
    }


def export_out(export: AuditExport) -> dict:
    return {
        "export_id": str(export.id), "status": export.status, "format": export.format,
        "start_date": iso(export.start_date), "end_date": iso(export.end_date), "filters": export.filters,
        "row_count": export.row_count, "size_bytes": export.size_bytes, "error": export.error,
        "created_at": iso(export.created_at), "completed_at": iso(export.completed_at),
        "download_url": f"/v1/admin/audit/exports/{export.id}/download" if export.status == "completed" else None,
    }


@router.get("/users", summary="List staff users", operation_id="list_users",
            **answers(list_of(UserOut, users.USER_LIST_SPEC), 403))
async def list_users(request: Request, ctx: Ctx):
    query = parse_list_query(list(request.query_params.multi_items()), users.USER_LIST_SPEC)
    return envelope.page(await users.list_users(ctx, query), query, user_out)


@router.post("/users", summary="Create (invite) a staff user", operation_id="create_user",
             **answers(One(UserOut), 403, 409, 422, status=201))
async def create_user(body: UserCreate, ctx: Ctx, state: State, background: BackgroundTasks):
    """The user receives an invitation by mail to set a password and enrol TOTP."""
    policy.require(ctx.principal, "admin.users")
    user, _ = await users.create_user(ctx.session, ctx.principal.firm_id, body.email, body.full_name, body.role,
                                      state.cipher, ptin=body.ptin)
    link = await state.authenticator.invite(ctx, user)
    await ctx.audit("user.create", "user", user.id, details={"role": body.role})
    # Committed with the user; sent after the response, or by the outbox relay.
    background.add_task(state.outbox.send, *await state.outbox.commit(ctx.session, link_mail(state.settings, link)))
    return envelope.one(user_out(user))


@router.get("/users/{user_id}", summary="Get a staff user", operation_id="get_user",
            **answers(One(UserOut), 403, 404))
async def get_user(user_id: uuid.UUID, ctx: Ctx):
    return envelope.one(user_out(await users.get_user(ctx, user_id)))


@router.patch("/users/{user_id}", summary="Update a staff user", operation_id="update_user",
              **answers(One(UserOut), 403, 404, 409, 422))
async def update_user(user_id: uuid.UUID, body: UserUpdate, ctx: Ctx):
    changes = patch_changes(body)
    return envelope.one(user_out(await users.update_user(ctx, user_id, changes)))


@router.post("/users/{user_id}/deactivate", summary="Deactivate a staff user", operation_id="deactivate_user",
             **answers(One(UserOut), 403, 404, 409, 422))
async def deactivate_user(user_id: uuid.UUID, ctx: Ctx):
    """Takes effect at once: every session of the user is revoked."""
    return envelope.one(user_out(await users.deactivate_user(ctx, user_id)))


@router.get("/config", summary="Get security configuration", operation_id="get_config",
            **answers(One(ConfigOut), 403))
async def read_config(ctx: Ctx):
    return envelope.one(config_out(await get_config(ctx)))


@router.patch("/config", summary="Update security configuration", operation_id="update_config",
              **answers(One(ConfigOut), 403, 409, 422))
async def change_config(body: ConfigUpdate, ctx: Ctx):
    changes = patch_changes(body)
    return envelope.one(config_out(await update_config(ctx, changes)))


@router.get("/audit", summary="Query the audit log", operation_id="query_audit_log",
            **answers(list_of(AuditEntryOut, audit.AUDIT_LIST_SPEC), 403))
async def query_audit(request: Request, ctx: Ctx):
    """Filters: user_id, client_id, event_type, resource_type, start_date, end_date; newest first."""
    query = parse_list_query(list(request.query_params.multi_items()), audit.AUDIT_LIST_SPEC)
    return envelope.page(await audit.query_audit(ctx, query), query, audit_out)


@router.post("/audit/export", summary="Export the audit log to S3", operation_id="export_audit_log",
             **answers(One(ExportAccepted), 403, 409, 422, status=202, description="Accepted"))
async def export_audit(body: AuditExportRequest, ctx: Ctx, state: State):
    """Runs as a Temporal workflow; poll GET /v1/admin/audit/exports/{export_id}."""
    filters = body.filters.model_dump(exclude_none=True)
    export, rows = await audit.create_export(ctx, body.start_date, body.end_date, body.format, filters)
    # The row and its workflow's start commit together: the workflow starts now, or from the relay.
    await state.outbox.commit_and_send(ctx.session, audit_export_workflow.started(export.id))
    estimated = rows * audit.APPROX_BYTES_PER_ROW[body.format] / 1_000_000
    return envelope.one({"export_id": str(export.id), "status": "processing",
                         "estimated_size_mb": round(estimated, 2)})


@router.get("/audit/exports/{export_id}", summary="Get an audit export's status", operation_id="get_audit_export",
            **answers(One(ExportOut), 403, 404))
async def get_export(export_id: uuid.UUID, ctx: Ctx):
    return envelope.one(export_out(await audit.get_export(ctx, export_id)))


@router.get("/audit/exports/{export_id}/download", summary="Download a finished audit export",
            operation_id="download_audit_export",
            **answers(None, 403, 404, 409, description="The export file", content={
                "application/json": {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string", "format": "binary"}}}))
async def download_export(export_id: uuid.UUID, ctx: Ctx, state: State):
    export = await audit.get_export(ctx, export_id)
    if export.status != "completed":
        raise Conflict(f"The export is {export.status}, not completed")
    await ctx.audit("audit.export_download", "audit_export", export.id)
    body, length, content_type = await asyncio.to_thread(state.storage.open_stream, export.s3_key)
    return StreamingResponse(
        body.iter_chunks(64 * 1024), media_type=content_type or "application/octet-stream",
        headers={"Content-Length": str(length),
                 "Content-Disposition": f'attachment; filename="audit-{export.id}.{export.format}"'})


@router.get("/audit-chain/checks", summary="The scheduled audit-chain checks (admin)",
            operation_id="list_audit_chain_checks", **answers(AuditChainChecksOut, 403))
async def list_audit_chain_checks(ctx: Ctx, limit: int = Query(20, ge=1, le=200)):
    """The latest checks of the audit chains against the anchors kept outside the database (docs/security.md),
    newest first, each saying whether this firm's chain held and, if not, where it breaks."""
    policy.require(ctx.principal, "admin.audit")
    checks = await checks_for_firm(ctx.session, ctx.principal.firm_id, limit)
    return {"data": [{"id": check.id, "checked_at": check.checked_at, "intact": broken is None,
                      "compared_with_anchor": check.anchor_key is not None, "chain_break": broken and {
                          "chain_seq": broken["chain_seq"], "audit_id": broken["audit_id"],
                          "reason": broken["reason"]}}
                     for check, broken in checks], "meta": meta()}


@router.get("/health/detailed", summary="Probe every component", operation_id="get_detailed_health",
            **answers(DetailedHealth, 403))
async def detailed_health(ctx: Ctx, state: State):
    """Probes every component spec §14.4 lists that the stack has (api/health_checks.py), each with its latency,
    and names those not configured."""
    policy.require(ctx.principal, "admin.health")
    components = await health_checks.detailed(state)
    return {"status": health_checks.overall(components), "components": components}
