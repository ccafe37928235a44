"""Admin request bodies (spec §14), and the audit-chain checks' read model."""

from __future__ import annotations

import uuid
from datetime import datetime


from typing import Any

from pydantic import Field

from api.openapi import ReadModel
from api.schemas.base import MailableEmail, PatchModel, RequestModel, SingleLine, UtcDatetime, one_of
from domain.audit.service import EXPORT_FORMATS
from domain.roles import STAFF_ROLES, Role

StaffRole = one_of(r.value for r in Role if r in STAFF_ROLES)


class UserCreate(RequestModel):
    email: MailableEmail
    full_name: SingleLine = Field(min_length=1, max_length=200)
    role: StaffRole
    ptin: str | None = Field(None, pattern=r"^P\d{8}$")


class UserUpdate(PatchModel):
    not_clearable = frozenset({"email", "full_name", "role"})
    email: MailableEmail | None = None
    full_name: SingleLine | None = Field(None, min_length=1, max_length=200)
    role: StaffRole | None = None
    ptin: str | None = Field(None, pattern=r"^P\d{8}$")


class ConfigUpdate(PatchModel):
    not_clearable = frozenset({"session_timeout_minutes", "mfa_required", "failed_login_lockout_attempts"})
    session_timeout_minutes: int | None = Field(None, ge=5, le=720)
    mfa_required: bool | None = None
    failed_login_lockout_attempts: int | None = Field(None, ge=3, le=20)
    # A return leaves intake only once its client's engagement letter for that year is signed (docs/engagement.md).
    engagement_required_before_prep: bool | None = None


class ExportFilters(RequestModel):
    user_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None
    event_type: str | None = Field(None, max_length=80)
    resource_type: str | None = Field(None, max_length=40)


class AuditExportRequest(RequestModel):
    start_date: UtcDatetime
    end_date: UtcDatetime
    format: one_of(EXPORT_FORMATS) = "json"
    filters: ExportFilters = ExportFilters()


class AuditChainBreakOut(ReadModel):
    """Where the firm's audit chain breaks (domain/audit/chain.py, domain/audit/anchor.py)."""

    chain_seq: int
    audit_id: int | None
    reason: str


class AuditChainCheckOut(ReadModel):
    """One scheduled check of the audit chains against the last anchor outside the database, as one firm sees
    it: whether its own chain held."""

    id: uuid.UUID
    checked_at: datetime
    intact: bool
    compared_with_anchor: bool  # False only for the first check, before any anchor was written
    chain_break: AuditChainBreakOut | None


class AuditChainChecksOut(ReadModel):
    data: list[AuditChainCheckOut]
    meta: dict


# ---- read models ----------------------------------------------------------------------------------------------

class UserOut(ReadModel):
    """A staff user as listed (USER_LIST_SPEC.output_fields) and read."""

    id: uuid.UUID
    email: str
    full_name: str
    role: StaffRole
    ptin: str | None
    is_active: bool
    mfa_enrolled: bool = Field(description="false until the invitation is accepted")
    created_at: datetime
    updated_at: datetime


class ConfigOut(ReadModel):
    session_timeout_minutes: int
    mfa_required: bool
    failed_login_lockout_attempts: int
    updated_at: datetime | None


class AuditEntryOut(ReadModel):
    """An audit row as listed (AUDIT_LIST_SPEC.output_fields)."""

    id: int
    occurred_at: datetime
    user_id: uuid.UUID | None
    actor_role: str | None
    event_type: str = Field(examples=["client.read"])
    resource_type: str | None
    resource_id: str | None
    client_id: uuid.UUID | None
    correlation_id: str | None
    request_id: str | None
    ip_address: str | None
    details: dict[str, Any] | None


class ExportAccepted(ReadModel):
    export_id: uuid.UUID
    status: str = Field(examples=["processing"])
    estimated_size_mb: float


class ExportOut(ReadModel):
    export_id: uuid.UUID
    status: str = Field(examples=["processing", "completed", "failed"])
    format: one_of(EXPORT_FORMATS)
    start_date: datetime
    end_date: datetime
    filters: dict[str, Any]
    row_count: int | None
    size_bytes: int | None
    error: str | None
    created_at: datetime
    completed_at: datetime | None
    download_url: str | None = Field(description="Set once the export is completed")
