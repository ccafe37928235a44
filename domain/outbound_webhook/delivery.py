"""Delivering one event to one endpoint, attempt by attempt (the workflow owns the schedule: workflows/
webhook_delivery.py; the HTTP request is integrations/webhook_sender.py).

- `load` and `prepare`: what to send now (URL, body, Standard Webhooks headers), or why to stop (the endpoint deleted or
  disabled). The body is built at each attempt from the event row, so it is the same bytes every time; a full
  payload goes through the §7216 gate at each attempt (consent is checked per disclosure: revoked meanwhile, the
  attempt carries the thin payload instead and the disclosure log records the refusal).
- `record`: the attempt's row and what follows from it: delivered, retry, or stop (410 Gone disables the endpoint
  at once; an endpoint whose every attempt has failed for FAILING_DISABLE_AFTER is disabled).
- `give_up`: the schedule is spent.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from domain.context import ServiceContext
from domain.crypto import FieldCipher
from domain.disclosure import gate
from domain.disclosure.basis import DisclosurePurpose
from domain.event.catalogue import entity_link
from domain.event.models import DomainEvent
from domain.outbound_webhook import secrets
from domain.outbound_webhook.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from domain.outbound_webhook.payload import full_details
from domain.roles import Role
from domain.user.models import User

# Svix's rule: an endpoint that has failed every attempt for this long is disabled and its admins are told.
FAILING_DISABLE_AFTER = timedelta(days=5)
SOURCE = "webhook_delivery"  # the system actor's source in the audit and disclosure logs


@dataclass(frozen=True)
class Plan:
    """What to send (None: stop, with `stop_reason`)."""

    url: str | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    endpoint_id: uuid.UUID | None = None
    stop_reason: str | None = None


@dataclass(frozen=True)
class Recorded:
    result: str  # delivered | retry | stop
    disabled: str | None = None  # gone | failing: the endpoint was disabled by this attempt
    admin_emails: tuple[str, ...] = ()
    endpoint_id: uuid.UUID | None = None
    endpoint_url: str | None = None


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def thin_body(event: DomainEvent, api_base_url: str) -> dict:
    """The Standard Webhooks payload shape: type, timestamp, data. Ids, statuses and a link only."""
    data = {"id": str(event.id), "firm_id": str(event.firm_id), "entity_type": event.entity_type,
            "entity_id": str(event.entity_id), "client_id": str(event.client_id) if event.client_id else None,
            **event.data}
    link = entity_link(event.entity_type, event.entity_id)
    if link:
        data["links"] = {"self": api_base_url.rstrip("/") + link}
    return {"type": event.type, "timestamp": iso(event.occurred_at), "data": data}


def signature(endpoint: WebhookEndpoint, cipher: FieldCipher, msg_id: str, now: datetime, body: str) -> str:
    """`v1,<base64 HMAC>`, and during a rotation the old secret's signature after it, space separated: a
    receiver with either secret verifies."""
    keys = [endpoint.secret_ciphertext]
    if endpoint.previous_secret_ciphertext and endpoint.previous_secret_until and endpoint.previous_secret_until > now:
        keys.append(endpoint.previous_secret_ciphertext)
    return " ".join(Webhook(secrets.open_(cipher, endpoint.id, key)).sign(msg_id, now, body) for key in keys)


async def _full_or_thin(session: AsyncSession, endpoint: WebhookEndpoint, event: DomainEvent, body: dict) -> dict:
    if endpoint.payload != "full" or event.client_id is None or not endpoint.recipient:
        return body
    ctx = ServiceContext.for_system(session, event.firm_id, SOURCE)
    decision = await gate.authorize(ctx, gate.Disclosure(
        client_id=event.client_id, recipient=endpoint.recipient, purpose=DisclosurePurpose.WEBHOOK_DELIVERY,
        information=f"webhook.{event.type}", entity_type=event.entity_type, entity_id=event.entity_id))
    if not decision.allowed:
        body["data"]["details_withheld"] = decision.refusal_reason
        return body
    body["data"]["details"] = await full_details(session, event)
    return body


@dataclass(frozen=True)
class Loaded:
    delivery: WebhookDelivery
    endpoint: WebhookEndpoint
    event: DomainEvent


async def load(session: AsyncSession, delivery_id: uuid.UUID) -> Loaded | None:
    """The delivery with its endpoint and event, in one query (None: the endpoint, and so the delivery, is gone)."""
    row = (await session.execute(
        select(WebhookDelivery, WebhookEndpoint, DomainEvent)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(DomainEvent, DomainEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.id == delivery_id))).first()
    return Loaded(*row) if row is not None else None


async def prepare(session: AsyncSession, cipher: FieldCipher, loaded: Loaded, api_base_url: str,
                  now: datetime | None = None) -> Plan:
    """In the caller's transaction (a full payload's disclosure log row commits with it, before the send)."""
    now = now or datetime.now(timezone.utc)
    delivery, endpoint, event = loaded.delivery, loaded.endpoint, loaded.event
    if not endpoint.enabled:
        delivery.status = "abandoned"
        return Plan(stop_reason="endpoint_disabled")
    body = await _full_or_thin(session, endpoint, event, thin_body(event, api_base_url))
    text = json.dumps(body, separators=(",", ":"), sort_keys=True)
    msg_id = str(event.id)  # the same on every attempt and every redelivery: receivers deduplicate on it
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": signature(endpoint, cipher, msg_id, now, text)}
    return Plan(url=endpoint.url, body=text.encode(), headers=headers, endpoint_id=endpoint.id)


async def _record_success(session: AsyncSession, delivery_id: uuid.UUID, number: int, at: datetime,
                          status_code: int, latency_ms: int | None) -> Recorded:
    """The common case in three statements and no lock on the endpoint's row unless it was failing: thousands of
    deliveries a minute to one endpoint would otherwise queue on that row."""
    endpoint_id = await session.scalar(
        update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
        .values(status="succeeded", attempt_count=WebhookDelivery.attempt_count + 1, last_attempt_at=at)
        .returning(WebhookDelivery.endpoint_id))
    if endpoint_id is None:
        return Recorded("stop")
    await session.execute(insert(WebhookAttempt).values(
        id=uuid.uuid4(), delivery_id=delivery_id, number=number, attempted_at=at, status_code=status_code,
        latency_ms=latency_ms, error=None, succeeded=True))
    await session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                                        WebhookEndpoint.failing_since.is_not(None))
                          .values(failing_since=None))
    return Recorded("delivered")


async def record(session: AsyncSession, delivery_id: uuid.UUID, number: int, at: datetime,
                 status_code: int | None, latency_ms: int | None, error: str | None) -> Recorded:
    """The attempt's row, the delivery's and the endpoint's state after it. `at` is the schedule's clock."""
    if status_code is not None and 200 <= status_code < 300:
        return await _record_success(session, delivery_id, number, at, status_code, latency_ms)
    delivery = (await session.execute(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                                      .with_for_update())).scalar_one_or_none()
    if delivery is None:
        return Recorded("stop")
    endpoint = (await session.execute(select(WebhookEndpoint).where(WebhookEndpoint.id == delivery.endpoint_id)
                                      .with_for_update())).scalar_one()
    session.add(WebhookAttempt(id=uuid.uuid4(), delivery_id=delivery.id, number=number, attempted_at=at,
                               status_code=status_code, latency_ms=latency_ms, error=error, succeeded=False))
    delivery.attempt_count += 1
    delivery.last_attempt_at = at
    if status_code == 410:
        delivery.status = "failed"
        return await _disable(session, endpoint, "gone")
    if endpoint.failing_since is None or endpoint.failing_since > at:
        endpoint.failing_since = at
    if endpoint.enabled and at - endpoint.failing_since >= FAILING_DISABLE_AFTER:
        delivery.status = "failed"
        return await _disable(session, endpoint, "failing")
    return Recorded("retry")


async def _disable(session: AsyncSession, endpoint: WebhookEndpoint, reason: str) -> Recorded:
    if not endpoint.enabled:
        return Recorded("stop")
    endpoint.enabled, endpoint.disabled_reason = False, reason
    ctx = ServiceContext.for_system(session, endpoint.firm_id, SOURCE)
    await ctx.audit("webhook.disabled", "webhook_endpoint", endpoint.id,
                    details={"reason": reason, "failing_since": iso(endpoint.failing_since)
                             if endpoint.failing_since else None})
    admins = (await session.execute(select(User.email).where(
        User.firm_id == endpoint.firm_id, User.role == Role.ADMIN.value, User.is_active))).scalars().all()
    return Recorded("stop", disabled=reason, admin_emails=tuple(admins), endpoint_id=endpoint.id,
                    endpoint_url=endpoint.url)


async def give_up(session: AsyncSession, delivery_id: uuid.UUID) -> None:
    delivery = await session.get(WebhookDelivery, delivery_id)
    if delivery is not None and delivery.status == "pending":
        delivery.status = "failed"
