"""From domain events to deliveries: each event not fanned out yet becomes one delivery per enabled endpoint of
its firm subscribed to its type, and is marked fanned out, in one transaction. Events are claimed with
FOR UPDATE SKIP LOCKED, so two fan-outs running at once (a worker restarting) never take the same event, and the
unique (endpoint, event) index makes a repeat write nothing."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.event.models import DomainEvent
from domain.outbound_webhook.models import WebhookDelivery, WebhookEndpoint


async def fan_out(session: AsyncSession, limit: int = 200) -> tuple[int, list[uuid.UUID]]:
    """In the caller's transaction: (events fanned out, ids of the deliveries written)."""
    events = (await session.execute(
        select(DomainEvent.id, DomainEvent.firm_id, DomainEvent.type).where(DomainEvent.fanned_out_at.is_(None))
        .order_by(DomainEvent.occurred_at).limit(limit).with_for_update(skip_locked=True))).all()
    if not events:
        return 0, []
    firms = {e.firm_id for e in events}
    endpoints = (await session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.firm_id, WebhookEndpoint.events)
        .where(WebhookEndpoint.firm_id.in_(firms), WebhookEndpoint.enabled))).all()
    rows = [{"id": uuid.uuid4(), "firm_id": event.firm_id, "endpoint_id": endpoint.id, "event_id": event.id,
             "event_type": event.type, "status": "pending", "attempt_count": 0}
            for event in events for endpoint in endpoints
            if endpoint.firm_id == event.firm_id and event.type in endpoint.events]
    written: list[uuid.UUID] = []
    if rows:
        written = list((await session.execute(
            insert(WebhookDelivery).values(rows).on_conflict_do_nothing(
                index_elements=[WebhookDelivery.endpoint_id, WebhookDelivery.event_id],
                index_where=text("redelivery_of IS NULL"))
            .returning(WebhookDelivery.id))).scalars())
    await session.execute(update(DomainEvent).where(DomainEvent.id.in_([e.id for e in events]))
                          .values(fanned_out_at=datetime.now(timezone.utc)))
    return len(events), written
