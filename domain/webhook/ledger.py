"""Record an inbound webhook once and apply it in the same transaction.

`receive` inserts the event's row first (`INSERT … ON CONFLICT DO NOTHING` on (source, event id)), then runs the
provider's effect and writes its outcome on the row, all in the caller's transaction. A second delivery of the
same event, even a concurrent one, waits on the unique key until the first commits and then finds the row: it
is answered as a duplicate and changes nothing. If the first rolls back, the second applies the event instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Generic, TypeVar

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.webhook.models import InboundWebhook
from domain.webhook.redaction import redact

T = TypeVar("T")


@dataclass(frozen=True)
class Delivery:
    """A delivery whose signature verified, parsed: what every provider hands the ledger."""

    source: str  # stripe | sureprep | smartvault
    event_id: str
    event_type: str
    occurred_at: datetime | None
    payload: dict  # as received; only its redaction is stored
    signature: str  # how it was verified: "stripe_sdk" | "hmac_sha256"


@dataclass
class Applied(Generic[T]):
    """What a provider's effect did. `follow_up` is the work for after the commit: what the entity's workflow
    must be given (a SmartVault import to start), or a notice to send (a Stripe refund due)."""

    outcome: str
    reason: str | None = None
    firm_id: uuid.UUID | None = None
    entity_type: str | None = None
    entity_id: uuid.UUID | None = None
    follow_up: T | None = None


@dataclass
class Receipt(Generic[T]):
    """The ledger's answer for one delivery: the first one's effect, or what the first delivery recorded."""

    event_id: str
    duplicate: bool
    outcome: str
    reason: str | None
    entity_id: uuid.UUID | None
    follow_up: T | None  # always None for a duplicate: the first delivery had it


# Built once, run on the session's connection: every delivery writes its row and then its outcome, and the ORM's
# insert-returning-an-object and unit of work for them cost the API more CPU than the statements (issue 19).
RECORD = insert(InboundWebhook).values(
    id=bindparam("id"), source=bindparam("source"), event_id=bindparam("event_id"),
    event_type=bindparam("event_type"), signature=bindparam("signature"), outcome="received",
    occurred_at=bindparam("occurred_at"), payload=bindparam("payload"), received_at=bindparam("received_at"),
).on_conflict_do_nothing(constraint="uq_inbound_webhooks_source_event").returning(InboundWebhook.id)
RECORD_OUTCOME = update(InboundWebhook).where(InboundWebhook.id == bindparam("row_id")).values(
    outcome=bindparam("outcome"), reason=bindparam("reason"), firm_id=bindparam("firm_id"),
    entity_type=bindparam("entity_type"), entity_id=bindparam("entity_id"))


async def record_once(session: AsyncSession, delivery: Delivery) -> uuid.UUID | None:
    """The id of the event's new row, with outcome "received"; None when (source, event id) was recorded
    before."""
    connection = await session.connection()
    return (await connection.execute(RECORD, {
        "id": uuid.uuid4(), "source": delivery.source, "event_id": delivery.event_id,
        "event_type": delivery.event_type, "signature": delivery.signature, "occurred_at": delivery.occurred_at,
        "payload": redact(delivery.payload), "received_at": datetime.now(timezone.utc)})).scalar()


async def find(session: AsyncSession, source: str, event_id: str) -> InboundWebhook | None:
    return (await session.execute(select(InboundWebhook).where(
        InboundWebhook.source == source, InboundWebhook.event_id == event_id))).scalar_one_or_none()


async def receive(session: AsyncSession, delivery: Delivery,
                  apply: Callable[[AsyncSession], Awaitable[Applied[T]]]) -> Receipt[T]:
    """Record the delivery once and, the first time only, apply it, in the caller's transaction."""
    row_id = await record_once(session, delivery)
    if row_id is None:
        seen = await find(session, delivery.source, delivery.event_id)
        return Receipt(delivery.event_id, True, seen.outcome, seen.reason, seen.entity_id, None)
    applied = await apply(session)
    await (await session.connection()).execute(RECORD_OUTCOME, {
        "row_id": row_id, "outcome": applied.outcome, "reason": applied.reason, "firm_id": applied.firm_id,
        "entity_type": applied.entity_type, "entity_id": applied.entity_id})
    return Receipt(delivery.event_id, False, applied.outcome, applied.reason, applied.entity_id,
                   applied.follow_up)
