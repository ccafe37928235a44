"""Request bodies and read models of the outbound webhook endpoints (admin)."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, Field

from api.openapi import Meta, Pagination
from api.schemas.base import PatchModel, RequestModel, SingleLine, one_of
from domain.outbound_webhook.models import DELIVERY_STATUSES, PAYLOADS

Url = Annotated[str, Field(min_length=1, max_length=2000)]
Events = Annotated[list[Annotated[str, Field(max_length=60)]], Field(min_length=1, max_length=50)]


class WebhookEndpointCreate(RequestModel):
    url: Url
    events: Events
    secret: Annotated[str, Field(max_length=200)] | None = None
    description: Annotated[SingleLine, Field(max_length=500)] | None = None
    payload: one_of(PAYLOADS) = "thin"
    consent_id: uuid.UUID | None = None


class WebhookEndpointUpdate(PatchModel):
    not_clearable = frozenset({"url", "events", "enabled"})

    url: Url | None = None
    events: Events | None = None
    enabled: bool | None = None
    description: Annotated[SingleLine, Field(max_length=500)] | None = None


class WebhookEndpointOut(BaseModel):
    id: uuid.UUID
    url: str
    description: str | None
    events: list[str]
    enabled: bool
    disabled_reason: str | None
    payload: one_of(PAYLOADS)
    consent_id: uuid.UUID | None
    recipient: str | None
    failing_since: str | None
    secret_rotating_until: str | None  # while the old secret still signs alongside the new one
    created_at: str
    updated_at: str


class WebhookEndpointWithSecret(WebhookEndpointOut):
    secret: str  # shown once: at creation and at rotation


class WebhookAttemptOut(BaseModel):
    number: int
    attempted_at: str
    status_code: int | None
    latency_ms: int | None
    error: str | None
    succeeded: bool


class WebhookDeliveryOut(BaseModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    redelivery_of: uuid.UUID | None
    status: one_of(DELIVERY_STATUSES)
    attempt_count: int
    last_attempt_at: str | None
    created_at: str
    attempts: list[WebhookAttemptOut]


class WebhookEndpointResponse(BaseModel):
    data: WebhookEndpointOut
    meta: Meta


class WebhookEndpointSecretResponse(BaseModel):
    data: WebhookEndpointWithSecret
    meta: Meta


class WebhookEndpointList(BaseModel):
    data: list[dict]  # WebhookEndpointOut, or the fields `fields=` asked for
    meta: Meta
    pagination: Pagination


class WebhookDeliveryResponse(BaseModel):
    data: WebhookDeliveryOut
    meta: Meta


class WebhookDeliveryList(BaseModel):
    data: list[dict]  # WebhookDeliveryOut, or the fields `fields=` asked for
    meta: Meta
    pagination: Pagination
