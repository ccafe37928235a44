"""Recording a domain event: one row, in the caller's transaction, so it commits (or vanishes) with the change
it reports; the webhook fan-out reads it from there after the commit (domain/outbound_webhook/fan_out.py)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from domain.context import ServiceContext
from domain.db import utcnow
from domain.event.catalogue import CATALOGUE
from domain.event.models import DomainEvent


def thin_data(type: str, entity_type: str, data: dict) -> dict:
    """The event's data, checked against its catalogue entry: a key the type does not declare is a bug (it could
    carry return information to every subscribed endpoint), refused here rather than sent."""
    event_type = CATALOGUE.get(type)
    if event_type is None:
        raise ValueError(f"unknown domain event {type!r}")
    if entity_type != event_type.entity_type:
        raise ValueError(f"{type} is about a {event_type.entity_type}, not a {entity_type}")
    extra = set(data) - set(event_type.fields)
    if extra:
        raise ValueError(f"{type} carries no {sorted(extra)}: events are thin (ids, statuses, links)")
    return data


def add_event(session: AsyncSession, firm_id: uuid.UUID, type: str, entity_type: str, entity_id: uuid.UUID,
              client_id: uuid.UUID | None = None, data: dict | None = None, occurred_at: datetime | None = None,
              event_id: uuid.UUID | None = None) -> DomainEvent:
    """For a service that holds a session but no context (a payment applied by the Stripe webhook's service)."""
    event = DomainEvent(id=event_id or uuid.uuid4(), firm_id=firm_id, type=type, entity_type=entity_type,
                        entity_id=entity_id, client_id=client_id, occurred_at=occurred_at or utcnow(),
                        data=thin_data(type, entity_type, data or {}))
    session.add(event)
    return event


def record_event(ctx: ServiceContext, type: str, entity_type: str, entity_id: uuid.UUID,
                       client_id: uuid.UUID | None = None, data: dict | None = None) -> DomainEvent:
    """Record that `type` happened to the entity, for the context's firm, in the context's transaction."""
    return add_event(ctx.session, ctx.principal.firm_id, type, entity_type, entity_id, client_id, data)
