"""Portal connections (docs/portal/api.md): the request body, and the read models the OpenAPI document shows."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field, SecretStr

from api.openapi import Meta, Pagination
from api.schemas.base import RequestModel, one_of
from api.schemas.portal_surfaces import PortalSurfaceItem
from integrations.portal_models import SURFACES


class PortalConnectionCreate(RequestModel):
    client_id: uuid.UUID
    base_url: str = Field(min_length=8, max_length=300, description="the portal's address, e.g. https://app.portal")
    email: str = Field(min_length=3, max_length=254, description="the portal login (not necessarily mailable)")
    password: SecretStr = Field(min_length=1, max_length=500)
    totp_secret: str | None = Field(None, min_length=16, max_length=128, pattern=r"^[A-Za-z2-7= ]+$",
                                          description="base32 TOTP secret the firm was authorized to use")
    consent_id: uuid.UUID
    surfaces: list[one_of(SURFACES)] | None = Field(None, min_length=1, description="default: all of them")
    schedule: str | None = Field(None, max_length=100, description="cron (UTC); default nightly")


class PortalAccountOut(BaseModel):
    portal_account_id: str
    name: str
    type: str
    region: str
    client_id: uuid.UUID
    matched_by: str


class PullResultOut(BaseModel):
    surface: str
    portal_account_id: str
    status: str
    seen: int
    created: int
    updated: int
    bytes_downloaded: int
    requests: int
    error: str | None


class PortalSyncOut(BaseModel):
    id: uuid.UUID
    connection_id: uuid.UUID
    trigger: str
    status: str
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    requests_made: int
    results: list[PullResultOut]


class PortalConnectionOut(BaseModel):
    id: uuid.UUID
    client_id: uuid.UUID
    consent_id: uuid.UUID
    base_url: str
    recipient: str
    surfaces: list[str]
    schedule: str
    status: str
    accounts: list[PortalAccountOut]
    last_sync: PortalSyncOut | None
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PortalConnectionEnvelope(BaseModel):
    data: PortalConnectionOut
    meta: Meta


class PortalConnectionListEnvelope(BaseModel):
    data: list[PortalConnectionOut]
    meta: Meta
    pagination: Pagination


class PortalSyncEnvelope(BaseModel):
    data: PortalSyncOut
    meta: Meta


class SurfaceCheckOut(BaseModel):
    surface: str
    portal_account_id: str
    status: str = Field(description="ok | drift | refused")
    field: str | None = None
    detail: str | None = None


class PortalCheckOut(BaseModel):
    connection_id: uuid.UUID
    checked_at: datetime
    ok: bool
    surfaces: list[SurfaceCheckOut]


class PortalCheckEnvelope(BaseModel):
    data: PortalCheckOut
    meta: Meta


class PortalItemListEnvelope(BaseModel):
    data: list[PortalSurfaceItem]
    meta: Meta
    pagination: Pagination
