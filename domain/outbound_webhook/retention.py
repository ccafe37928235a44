"""Retention of outbound webhooks' rows: domain events older than the retention period go, with their deliveries
and every attempt, once nothing about them is still pending.

An event is kept while it is not fanned out or any delivery of it is pending (a delivery's schedule lasts about
27.6 hours; a redelivery an admin asks for starts a new one), so pruning never takes a row a workflow still
reads. Deleted in batches, each its own transaction, oldest first, the events locked with SKIP LOCKED: a long
prune never holds a large lock, and two prunes at once share the work. The audit log keeps what admins did
(create, redeliver …); the delivery log is operational data, and goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.event.models import DomainEvent
from domain.outbound_webhook.models import WebhookAttempt, WebhookDelivery

BATCH = 1000  # events per transaction


@dataclass
class Pruned:
    events: int = 0
    deliveries: int = 0
    attempts: int = 0


async def prune_batch(session: AsyncSession, before: datetime, batch: int = BATCH) -> Pruned:
    """In the caller's transaction: up to `batch` events that occurred before `before`, with their deliveries."""
    pending = exists().where(WebhookDelivery.event_id == DomainEvent.id, WebhookDelivery.status == "pending")
    event_ids = list((await session.execute(
        select(DomainEvent.id).where(DomainEvent.occurred_at < before, DomainEvent.fanned_out_at.is_not(None), ~pending)
        .order_by(DomainEvent.occurred_at).limit(batch).with_for_update(skip_locked=True))).scalars())
    if not event_ids:
        return Pruned()
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.event_id.in_(event_ids)).scalar_subquery()
    # Attempts explicitly (their count is reported; the cascade would find none left), then deliveries, events.
    attempts = await session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
    gone = await session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(event_ids)))
    events = await session.execute(delete(DomainEvent).where(DomainEvent.id.in_(event_ids)))
    return Pruned(events.rowcount, gone.rowcount, attempts.rowcount)


async def prune(sessionmaker: async_sessionmaker[AsyncSession], before: datetime, batch: int = BATCH) -> Pruned:
    """Every event that may go, batch after batch, each committed on its own."""
    total = Pruned()
    while True:
        async with sessionmaker.begin() as session:
            done = await prune_batch(session, before, batch)
        total.events, total.deliveries, total.attempts = (total.events + done.events,
                                                          total.deliveries + done.deliveries,
                                                          total.attempts + done.attempts)
        if done.events < batch:
            return total
