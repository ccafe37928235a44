"""A firm's outbound webhook endpoints (admin only): register, change, rotate the secret, read the delivery log,
redeliver, send a test event. Deliveries are written here; their workflows start from the outbox (the API adds
`orchestration.webhook.deliver` for each delivery this returns, in the same transaction)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from domain import policy
from domain.consent.models import Consent
from domain.context import ServiceContext
from domain.crypto import FieldCipher
from domain.db import utcnow
from domain.disclosure.basis import DisclosurePurpose
from domain.errors import BusinessRuleViolation, Conflict, FieldError, NotFound, ValidationFailed
from domain.event.catalogue import CATALOGUE, TEST_EVENT
from domain.event.models import DomainEvent
from domain.listing import Filterable, ListQuery, ListSpec, Page, paginate
from domain.outbound_webhook import secrets
from domain.outbound_webhook.models import DELIVERY_STATUSES, WebhookAttempt, WebhookDelivery, WebhookEndpoint

ACTION = "admin.webhooks"
# After a rotation the old secret keeps signing alongside the new one this long, so receivers can switch.
ROTATION_OVERLAP = timedelta(hours=24)

ENDPOINT_LIST_SPEC = ListSpec(
    filters={"enabled": Filterable(WebhookEndpoint.enabled, bool, ("eq",))},
    sortable={"created_at": WebhookEndpoint.created_at},
    id_column=WebhookEndpoint.id,
    default_sort="-created_at",
    output_fields=frozenset({"id", "url", "description", "events", "enabled", "disabled_reason", "payload",
                             "consent_id", "recipient", "failing_since", "secret_rotating_until", "created_at",
                             "updated_at"}),
)

DELIVERY_LIST_SPEC = ListSpec(
    filters={"status": Filterable(WebhookDelivery.status, choices=frozenset(DELIVERY_STATUSES)),
             "event_type": Filterable(WebhookDelivery.event_type),
             "event_id": Filterable(WebhookDelivery.event_id, uuid.UUID),
             "created_at": Filterable(WebhookDelivery.created_at, datetime, ("gte", "lte"))},
    sortable={"created_at": WebhookDelivery.created_at},
    id_column=WebhookDelivery.id,
    default_sort="-created_at",
    output_fields=frozenset({"id", "endpoint_id", "event_id", "event_type", "redelivery_of", "status",
                             "attempt_count", "last_attempt_at", "created_at", "attempts"}),
)


def check_events(events: list[str]) -> list[str]:
    unknown = [name for name in events if name not in CATALOGUE]
    if unknown:
        raise ValidationFailed(errors=[FieldError("events", "unknown_event",
                                                  f"unknown event(s) {unknown}; known: {sorted(CATALOGUE)}")])
    if not events:
        raise ValidationFailed(errors=[FieldError("events", "required", "subscribe to at least one event")])
    return sorted(set(events))


async def _consent_recipient(ctx: ServiceContext, consent_id: uuid.UUID | None) -> str:
    """A full payload carries return information: only to the recipient a signed consent names, for webhook
    delivery. The gate still decides every delivery (a consent is per client; revoked or expired later, the
    delivery falls back to the thin payload)."""
    if consent_id is None:
        raise BusinessRuleViolation("A full payload needs the signed consent naming its recipient",
                                    [FieldError("consent_id", "required", "a full payload names its consent")],
                                    code="consent_required")
    consent = await ctx.session.get(Consent, consent_id)
    if consent is None or consent.firm_id != ctx.principal.firm_id:
        raise BusinessRuleViolation("No consent of this firm has this id",
                                    [FieldError("consent_id", "not_found", "no such consent")], code="consent_not_usable")
    if (consent.kind != "disclosure" or consent.purpose != DisclosurePurpose.WEBHOOK_DELIVERY.value
            or consent.status != "signed" or consent.signed_at is None or consent.revoked_at is not None):
        raise BusinessRuleViolation(
            "A full payload needs a signed disclosure consent for webhook delivery",
            [FieldError("consent_id", "consent_not_usable",
                        f"consent is {consent.kind}/{consent.purpose}/{consent.status}")],
            code="consent_not_usable")
    return consent.third_party_name


async def create_endpoint(ctx: ServiceContext, cipher: FieldCipher, *, url: str, events: list[str],
                          secret: str | None, description: str | None, payload: str,
                          consent_id: uuid.UUID | None) -> tuple[WebhookEndpoint, str]:
    """The endpoint and its secret (generated when none is given), which is shown this once."""
    policy.require(ctx.principal, ACTION)
    events = check_events(events)
    if secret is not None and (problem := secrets.problem(secret)):
        raise ValidationFailed(errors=[FieldError("secret", "invalid", problem)])
    recipient = await _consent_recipient(ctx, consent_id) if payload == "full" else None
    if payload != "full" and consent_id is not None:
        raise BusinessRuleViolation("Only a full payload names a consent",
                                    [FieldError("consent_id", "unexpected", "only a full payload names a consent")],
                                    code="consent_unexpected")
    secret = secret or secrets.generate()
    endpoint_id = uuid.uuid4()
    endpoint = WebhookEndpoint(
        id=endpoint_id, firm_id=ctx.principal.firm_id, url=url, description=description, events=events,
        enabled=True, secret_ciphertext=secrets.seal(cipher, endpoint_id, secret), payload=payload,
        consent_id=consent_id if payload == "full" else None, recipient=recipient,
        created_by=None if ctx.is_system else ctx.principal.subject_id)
    ctx.session.add(endpoint)
    await ctx.session.flush()
    await ctx.audit("webhook.create", "webhook_endpoint", endpoint.id,
                    details={"events": events, "payload": payload, "consent_id": str(consent_id) if consent_id else None})
    return endpoint, secret


async def list_endpoints(ctx: ServiceContext, query: ListQuery) -> Page:
    policy.require(ctx.principal, ACTION)
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.firm_id == ctx.principal.firm_id)
    return await paginate(ctx.session, stmt, query, ENDPOINT_LIST_SPEC)


async def get_endpoint(ctx: ServiceContext, endpoint_id: uuid.UUID, lock: bool = False) -> WebhookEndpoint:
    policy.require(ctx.principal, ACTION)
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                         WebhookEndpoint.firm_id == ctx.principal.firm_id)
    endpoint = (await ctx.session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if endpoint is None:
        raise NotFound("Webhook endpoint")
    return endpoint


async def update_endpoint(ctx: ServiceContext, endpoint_id: uuid.UUID, changes: dict) -> WebhookEndpoint:
    """`changes`: url (checked by the caller), events, enabled, description. Enabling clears the reason the
    system disabled it and its failing streak: the admin says the receiver is back."""
    endpoint = await get_endpoint(ctx, endpoint_id, lock=True)
    if "events" in changes:
        changes["events"] = check_events(changes["events"])
    for name, value in changes.items():
        setattr(endpoint, name, value)
    if changes.get("enabled") is True:
        endpoint.disabled_reason, endpoint.failing_since = None, None
    endpoint.updated_at = utcnow()
    await ctx.audit("webhook.update", "webhook_endpoint", endpoint.id, details={"changed": sorted(changes)})
    return endpoint


async def delete_endpoint(ctx: ServiceContext, endpoint_id: uuid.UUID) -> None:
    """Its deliveries and their attempts go with it; a delivery in flight finds it gone and stops."""
    endpoint = await get_endpoint(ctx, endpoint_id, lock=True)
    await ctx.session.delete(endpoint)
    await ctx.audit("webhook.delete", "webhook_endpoint", endpoint_id, details={"url": endpoint.url})


async def rotate_secret(ctx: ServiceContext, cipher: FieldCipher, endpoint_id: uuid.UUID) -> tuple[WebhookEndpoint, str]:
    endpoint = await get_endpoint(ctx, endpoint_id, lock=True)
    secret = secrets.generate()
    endpoint.previous_secret_ciphertext = endpoint.secret_ciphertext
    endpoint.previous_secret_until = utcnow() + ROTATION_OVERLAP
    endpoint.secret_ciphertext = secrets.seal(cipher, endpoint.id, secret)
    endpoint.updated_at = utcnow()
    await ctx.audit("webhook.rotate_secret", "webhook_endpoint", endpoint.id,
                    details={"previous_secret_until": endpoint.previous_secret_until.isoformat()})
    return endpoint, secret


async def list_deliveries(ctx: ServiceContext, endpoint_id: uuid.UUID,
                          query: ListQuery) -> tuple[Page, dict[uuid.UUID, list[WebhookAttempt]]]:
    """A page of the endpoint's deliveries, newest first, and every attempt of each, oldest first."""
    endpoint = await get_endpoint(ctx, endpoint_id)
    page = await paginate(ctx.session, select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id),
                          query, DELIVERY_LIST_SPEC)
    attempts: dict[uuid.UUID, list[WebhookAttempt]] = {d.id: [] for d in page.items}
    if attempts:
        rows = await ctx.session.execute(select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(attempts))
                                         .order_by(WebhookAttempt.attempted_at, WebhookAttempt.number))
        for attempt in rows.scalars():
            attempts[attempt.delivery_id].append(attempt)
    return page, attempts


def new_delivery(endpoint: WebhookEndpoint, event_id: uuid.UUID, event_type: str,
              redelivery_of: uuid.UUID | None = None) -> WebhookDelivery:
    return WebhookDelivery(id=uuid.uuid4(), firm_id=endpoint.firm_id, endpoint_id=endpoint.id, event_id=event_id,
                           event_type=event_type, redelivery_of=redelivery_of, status="pending", attempt_count=0)


async def redeliver(ctx: ServiceContext, endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    """A new delivery of the same event (the same `webhook-id`: a receiver that has it already ignores it)."""
    endpoint = await get_endpoint(ctx, endpoint_id)
    original = await ctx.session.get(WebhookDelivery, delivery_id)
    if original is None or original.endpoint_id != endpoint.id:
        raise NotFound("Webhook delivery")
    if not endpoint.enabled:
        raise Conflict("The endpoint is disabled: enable it before redelivering")
    delivery = new_delivery(endpoint, original.event_id, original.event_type, redelivery_of=original.id)
    ctx.session.add(delivery)
    await ctx.session.flush()
    await ctx.audit("webhook.redeliver", "webhook_endpoint", endpoint.id,
                    details={"delivery_id": str(delivery.id), "redelivery_of": str(original.id)})
    return delivery


async def send_test(ctx: ServiceContext, endpoint_id: uuid.UUID) -> WebhookDelivery:
    """A `webhook.test` event for this endpoint alone (written fanned out already: no subscription matches it)."""
    endpoint = await get_endpoint(ctx, endpoint_id)
    if not endpoint.enabled:
        raise Conflict("The endpoint is disabled: enable it before testing it")
    now = utcnow()
    event = DomainEvent(id=uuid.uuid4(), firm_id=endpoint.firm_id, type=TEST_EVENT, entity_type="webhook_endpoint",
                        entity_id=endpoint.id, occurred_at=now, data={}, fanned_out_at=now)
    ctx.session.add(event)
    await ctx.session.flush()
    delivery = new_delivery(endpoint, event.id, TEST_EVENT)
    ctx.session.add(delivery)
    await ctx.session.flush()
    await ctx.audit("webhook.test", "webhook_endpoint", endpoint.id, details={"delivery_id": str(delivery.id)})
    return delivery
