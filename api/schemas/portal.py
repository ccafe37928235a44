"""Portal connections (docs/portal/api.md): the request body, and the read models the OpenAPI document shows."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field, SecretStr

from api.openapi import ReadModel
from api.schemas.base import RequestModel, one_of
from domain.portal.models import CONNECTION_STATUSES, SYNC_STATUSES
from integrations.portal_models import SURFACES


# One field of a cron expression, as domain.portal.connection.check_schedule reads it.
_CRON_FIELD = r"(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?(,(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?)*"


class PortalConnectionCreate(RequestModel):
    client_id: uuid.UUID
    base_url: str = Field(min_length=8, max_length=300, pattern=r"^https?://[A-Za-z0-9][A-Za-z0-9._~:-]*(/[^\s?#]*)?$",
                          description="the portal's address, e.g. https://app.portal (no query or fragment)")
    email: str = Field(min_length=3, max_length=254, description="the portal login (not necessarily mailable)")
    password: SecretStr = Field(min_length=1, max_length=500)
    totp_secret: str | None = Field(None, min_length=16, max_length=128, pattern=r"^[A-Za-z2-7= ]+$",
                                          description="base32 TOTP secret the firm was authorized to use")
    consent_id: uuid.UUID
    surfaces: list[one_of(SURFACES)] | None = Field(None, min_length=1, description="default: all of them")
    schedule: str | None = Field(None, max_length=100, pattern=rf"^{_CRON_FIELD}(\s+{_CRON_FIELD}){{4}}$",
                                 description="cron of five fields (UTC), e.g. '0 3 * * *'; default nightly")


class PortalAccountOut(ReadModel):
    portal_account_id: str
    name: str
    type: str
    region: str
    client_id: uuid.UUID
    matched_by: str


class PullResultOut(ReadModel):
    surface: str
    portal_account_id: str
    status: str
    seen: int
    created: int
    updated: int
    bytes_downloaded: int
    requests: int
    error: str | None


class PortalSyncOut(ReadModel):
    id: uuid.UUID
    connection_id: uuid.UUID
    trigger: str
    status: one_of(SYNC_STATUSES)
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    requests_made: int
    results: list[PullResultOut]


class PortalConnectionOut(ReadModel):
    id: uuid.UUID
    client_id: uuid.UUID
    consent_id: uuid.UUID
    base_url: str
    recipient: str
    surfaces: list[one_of(SURFACES)]
    schedule: str
    status: one_of(CONNECTION_STATUSES)
    accounts: list[PortalAccountOut]
    last_sync: PortalSyncOut | None
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SurfaceCheckOut(ReadModel):
    surface: str
    portal_account_id: str
    status: str = Field(description="ok | drift | refused")
    field: str | None = None
    detail: str | None = None


class PortalCheckOut(ReadModel):
    connection_id: uuid.UUID
    checked_at: datetime
    ok: bool
    surfaces: list[SurfaceCheckOut]
