"""Request bodies and read models of the outbound webhook endpoints (admin)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from api.openapi import ReadModel
from api.schemas.base import PatchModel, RequestModel, SingleLine, one_of
from domain.event.catalogue import CATALOGUE
from domain.outbound_webhook.models import DELIVERY_STATUSES, PAYLOADS
from domain.outbound_webhook.secrets import MAX_BYTES, MIN_BYTES, PREFIX

# The URL's form: http(s), a host (a name or a bracketed IPv6 address), an optional port, no user name or password,
# no fragment. Where the host leads (it must resolve, to public addresses only; https only in production) is
# checked after, against the world: a 422 (integrations/webhook_target.py, docs/webhooks-outbound.md).
Url = Annotated[str, Field(min_length=1, max_length=2000,
                           pattern=r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~-]+)(:[0-9]{1,5})?([/?][^\s#]*)?$")]
Events = Annotated[list[one_of(CATALOGUE)], Field(min_length=1, max_length=50)]


def _base64_of(min_bytes: int, max_bytes: int) -> str:
    """A pattern of the padded base64 of min_bytes to max_bytes bytes (whole quads, then a padded tail)."""
    alphabet = "[A-Za-z0-9+/]"
    lengths = []
    for quads in range(min_bytes // 3 - 1, max_bytes // 3 + 1):
        for tail, extra in (("", 0), (f"{alphabet}{{2}}==", 1), (f"{alphabet}{{3}}=", 2)):
            if min_bytes <= 3 * quads + extra <= max_bytes:
                lengths.append(f"(?:{alphabet}{{4}}){{{quads}}}{tail}")
    return "(?:" + "|".join(lengths) + ")"


# A Standard Webhooks secret a receiver's library accepts (domain/outbound_webhook/secrets.py checks the same).
Secret = Annotated[str, Field(pattern=f"^{PREFIX}{_base64_of(MIN_BYTES, MAX_BYTES)}$",
                              description=f"{PREFIX} and the base64 of {MIN_BYTES} to {MAX_BYTES} random bytes")]


class WebhookEndpointCreate(RequestModel):
    url: Url
    events: Events
    secret: Secret | None = None
    description: Annotated[SingleLine, Field(max_length=500)] | None = None
    payload: one_of(PAYLOADS) = "thin"
    consent_id: uuid.UUID | None = None


class WebhookEndpointUpdate(PatchModel):
    not_clearable = frozenset({"url", "events", "enabled"})

    url: Url | None = None
    events: Events | None = None
    enabled: bool | None = None
    description: Annotated[SingleLine, Field(max_length=500)] | None = None


class WebhookEndpointOut(ReadModel):
    id: uuid.UUID
    url: str
    description: str | None
    events: list[str]
    enabled: bool
    disabled_reason: str | None
    payload: one_of(PAYLOADS)
    consent_id: uuid.UUID | None
    recipient: str | None
    failing_since: datetime | None
    secret_rotating_until: datetime | None = Field(
        description="while the old secret still signs alongside the new one")
    created_at: datetime
    updated_at: datetime


class WebhookEndpointWithSecret(WebhookEndpointOut):
    secret: str = Field(description="shown once: at creation and at rotation")


class WebhookAttemptOut(ReadModel):
    number: int
    attempted_at: datetime
    status_code: int | None
    latency_ms: int | None
    error: str | None
    succeeded: bool


class WebhookDeliveryOut(ReadModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    redelivery_of: uuid.UUID | None
    status: one_of(DELIVERY_STATUSES)
    attempt_count: int
    last_attempt_at: datetime | None
    created_at: datetime
    attempts: list[WebhookAttemptOut]
