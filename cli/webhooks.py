"""Operator commands for outbound webhooks, for `taxpractice webhooks deliveries|redeliver|prune` (the wiring is
cli/commands/webhooks.py): the delivery log of an endpoint with every attempt, a redelivery by delivery id, and
the retention prune.

An operator with database access acts for the system (the audit row says `cli`), like `taxpractice users create`;
the admin API (`/v1/admin/webhooks/…`) is the same for a firm's admins.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.context import ServiceContext
from domain.errors import Conflict, NotFound
from domain.outbound_webhook import retention
from domain.outbound_webhook.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from domain.outbound_webhook.service import new_delivery
from orchestration import outbox
from orchestration import webhook as workflow

SOURCE = "cli"


async def deliveries(sessionmaker: async_sessionmaker[AsyncSession], endpoint_id: uuid.UUID,
                     limit: int = 20) -> list[dict]:
    """The endpoint's latest deliveries, newest first, each with its attempts (time, status, latency, error)."""
    async with sessionmaker() as session:
        rows = (await session.execute(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
                                      .order_by(WebhookDelivery.created_at.desc()).limit(limit))).scalars().all()
        attempts = (await session.execute(select(WebhookAttempt).where(
            WebhookAttempt.delivery_id.in_([d.id for d in rows])).order_by(WebhookAttempt.attempted_at))).scalars()
        by_delivery: dict[uuid.UUID, list[dict]] = {d.id: [] for d in rows}
        for a in attempts:
            by_delivery[a.delivery_id].append({"number": a.number, "at": a.attempted_at.isoformat(),
                                               "status_code": a.status_code, "latency_ms": a.latency_ms,
                                               "error": a.error})
    return [{"id": str(d.id), "event_id": str(d.event_id), "event_type": d.event_type, "status": d.status,
             "redelivery_of": str(d.redelivery_of) if d.redelivery_of else None, "attempts": by_delivery[d.id]}
            for d in rows]


async def redeliver(box: outbox.Outbox, delivery_id: uuid.UUID) -> uuid.UUID:
    """A new delivery of the same event (same webhook-id); its workflow starts from the outbox relay (within 30 s),
    so the command needs no Temporal connection. Returns the new delivery's id."""
    async with box.sessionmaker.begin() as session:
        original = await session.get(WebhookDelivery, delivery_id)
        if original is None:
            raise NotFound("Webhook delivery")
        endpoint = await session.get(WebhookEndpoint, original.endpoint_id)
        if not endpoint.enabled:
            raise Conflict("The endpoint is disabled: enable it before redelivering")
        delivery = new_delivery(endpoint, original.event_id, original.event_type, redelivery_of=original.id)
        session.add(delivery)
        await session.flush()
        await ServiceContext.for_system(session, endpoint.firm_id, SOURCE).audit(
            "webhook.redeliver", "webhook_endpoint", endpoint.id,
            details={"delivery_id": str(delivery.id), "redelivery_of": str(original.id)})
        await box.add(session, workflow.deliver(delivery.id))
    return delivery.id


async def prune(sessionmaker: async_sessionmaker[AsyncSession], older_than_days: int) -> dict:
    """What the daily schedule does (orchestration/webhook_retention.py), now: how many rows went."""
    done = await retention.prune(sessionmaker, datetime.now(timezone.utc) - timedelta(days=older_than_days))
    return {"older_than_days": older_than_days, "events": done.events, "deliveries": done.deliveries,
            "attempts": done.attempts}
