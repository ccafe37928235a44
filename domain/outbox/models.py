"""The transactional outbox's one table (orchestration/outbox.py sends what it holds)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, created_at_column, uuid_pk


class OutboxEntry(Base):
    """A message to an entity's workflow, or a mail, written in the transaction of the change it reports and
    deleted once delivered. One that cannot be sent after the commit (Temporal or SMTP unreachable, the process
    killed between commit and send) stays here until OutboxRelayWorkflow delivers it. Keyed by the entity it is
    about, not by a foreign key: entities of every kind (and ids that are not ours, such as a SmartVault
    document's) share the table."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_created", "created_at"), Index("ix_outbox_entity", "entity_type", "entity_id"))

    id: Mapped[uuid.UUID] = uuid_pk()
    entity_type: Mapped[str] = mapped_column(String(40), nullable=False)
    entity_id: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(60), nullable=False)  # a registered kind: orchestration.outbox.HANDLERS
    # AES-256-GCM, bound to this entry (orchestration/outbox.seal): a mail's sign-in link or invitation token is
    # never in clear here. `payload` is only set on entries written before migration 0015, in clear.
    sealed_payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    payload: Mapped[dict | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at_column()
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # failed deliveries
    last_error: Mapped[str | None] = mapped_column(String(500))
