"""What the outbox carries and what its handlers receive (orchestration/outbox.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from integrations.mail import Mailer


@dataclass(frozen=True)
class OutboxMessage:
    """One message for one entity's workflow (or one mail): `kind` names its handler, `entity_type` and
    `entity_id` the entity it is about (the outbox is keyed by them), `payload` is JSON."""

    kind: str
    entity_type: str
    entity_id: str
    payload: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """What a handler may use to deliver a message: the Temporal client, a session to read the entity's
    current row (handlers send what is committed now, not what was true when the message was written), and
    the mailer."""

    temporal: Client
    session: AsyncSession
    mailer: Mailer
