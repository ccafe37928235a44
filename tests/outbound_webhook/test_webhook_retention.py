"""Retention: domain events past OUTBOUND_WEBHOOK_EVENT_RETENTION_DAYS go with their deliveries and attempts, by
the daily Temporal Schedule (triggered here) and by `taxpractice webhooks prune`; an event with a delivery still
pending, and a recent one, stay."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from cli import webhooks as cli
from domain.event.models import DomainEvent
from domain.outbound_webhook.models import WebhookAttempt, WebhookDelivery
from orchestration.webhook_retention import ensure_prune_scheduled
from tests.outbound_webhook.conftest import register, until


async def _event(tp, firm, endpoint_id, age_days: int, statuses: list[str]) -> uuid.UUID:
    """An invoice.paid event `age_days` old, fanned out, with one delivery per status (the second and later are
    redeliveries of the first), each with two attempts."""
    at = datetime.now(timezone.utc) - timedelta(days=age_days)
    event_id = uuid.uuid4()
    async with tp.state.sessionmaker.begin() as session:
        session.add(DomainEvent(id=event_id, firm_id=firm.firm_id, type="invoice.paid", entity_type="invoice",
                                entity_id=uuid.uuid4(), occurred_at=at, data={"status": "paid"}, fanned_out_at=at))
        await session.flush()
        first = None
        for status in statuses:
            delivery = WebhookDelivery(id=uuid.uuid4(), firm_id=firm.firm_id, endpoint_id=uuid.UUID(endpoint_id),
                                       event_id=event_id, event_type="invoice.paid", redelivery_of=first,
                                       status=status, attempt_count=2)
            session.add(delivery)
            await session.flush()
            first = first or delivery.id
            session.add_all([WebhookAttempt(id=uuid.uuid4(), delivery_id=delivery.id, number=n, attempted_at=at,
                                            status_code=500 if n == 1 else 200, latency_ms=5, succeeded=n == 2)
                             for n in (1, 2)])
    return event_id


async def _left(tp, event_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[int, int]]:
    """Per event still there: (its deliveries, their attempts)."""
    async with tp.state.sessionmaker() as session:
        there = set((await session.execute(select(DomainEvent.id).where(DomainEvent.id.in_(event_ids)))).scalars())
        left = {}
        for event_id in there:
            deliveries = select(WebhookDelivery.id).where(WebhookDelivery.event_id == event_id).scalar_subquery()
            left[event_id] = (
                await session.scalar(select(func.count()).where(WebhookDelivery.event_id == event_id)),
                await session.scalar(select(func.count()).where(WebhookAttempt.delivery_id.in_(deliveries))))
        return left


async def test_old_events_go_with_their_deliveries_unless_one_is_pending(tp, receiver, firm):
    endpoint = await register(tp, firm, receiver.url + "/ok/retention", events=["invoice.paid"])
    done = await _event(tp, firm, endpoint["id"], 100, ["succeeded", "failed"])  # with a redelivery
    quiet = await _event(tp, firm, endpoint["id"], 100, [])  # no endpoint wanted it
    pending = await _event(tp, firm, endpoint["id"], 100, ["failed", "pending"])  # a redelivery under way
    recent = await _event(tp, firm, endpoint["id"], 10, ["succeeded"])
    events = [done, quiet, pending, recent]
    assert set(await _left(tp, events)) == set(events)

    schedule = await ensure_prune_scheduled(tp.temporal)
    try:
        await schedule.trigger()  # what the daily run does (retention: 90 days, the default)
        left = await until(lambda: _pruned(tp, events, {done, quiet}), timeout_s=60)
    finally:
        await schedule.delete()
    assert left == {pending: (2, 4), recent: (1, 2)}

    async with tp.state.sessionmaker.begin() as session:  # the redelivery ends: nothing pending any more
        await session.execute(WebhookDelivery.__table__.update().where(WebhookDelivery.event_id == pending)
                              .values(status="succeeded"))
    pruned = await cli.prune(tp.state.sessionmaker, 90)
    assert pruned["events"] >= 1 and pruned["deliveries"] >= 2 and pruned["attempts"] >= 4, pruned
    assert await _left(tp, events) == {recent: (1, 2)}
    pruned = await cli.prune(tp.state.sessionmaker, 5)  # a shorter retention, asked for by the operator
    assert await _left(tp, events) == {}


async def _pruned(tp, events, gone):
    left = await _left(tp, events)
    return left if not set(left) & gone else None
