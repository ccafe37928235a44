"""Admin request bodies (spec §14), and the audit-chain checks' read model."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from api.schemas.base import MailableEmail, RequestModel, SingleLine, UtcDatetime, one_of
from domain.audit.service import EXPORT_FORMATS
from domain.roles import STAFF_ROLES, Role

StaffRole = one_of(r.value for r in Role if r in STAFF_ROLES)


class UserCreate(RequestModel):
    email: MailableEmail
    full_name: SingleLine = Field(min_length=1, max_length=200)
    role: StaffRole
    ptin: str | None = Field(None, pattern=r"^P\d{8}$")


class UserUpdate(RequestModel):
    email: MailableEmail | None = None
    full_name: SingleLine | None = Field(None, min_length=1, max_length=200)
    role: StaffRole | None = None
    ptin: str | None = Field(None, pattern=r"^P\d{8}$")


class ConfigUpdate(RequestModel):
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


class AuditChainBreakOut(BaseModel):
    """Where the firm's audit chain breaks (domain/audit/chain.py, domain/audit/anchor.py)."""

    chain_seq: int
    audit_id: int | None
    reason: str


class AuditChainCheckOut(BaseModel):
    """One scheduled check of the audit chains against the last anchor outside the database, as one firm sees
    it: whether its own chain held."""

    id: uuid.UUID
    checked_at: datetime
    intact: bool
    compared_with_anchor: bool  # False only for the first check, before any anchor was written
    chain_break: AuditChainBreakOut | None


class AuditChainChecksOut(BaseModel):
    data: list[AuditChainCheckOut]
    meta: dict
