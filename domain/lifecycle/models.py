"""The one history table every lifecycle writes (domain/lifecycle/__init__.py)."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base


class LifecycleHistory(Base):
    """One row per applied transition of any lifecycle entity: (entity type, entity id, from, to, action,
    actor, at, note), plus the firm, the actor's role and the source that sent it. The id is the transition
    id the entity's workflow generates, so the activity that writes it can be retried (worker killed
    mid-write) without a second row. `entity_id` has no foreign key: it names a row of the entity's table."""

    __tablename__ = "lifecycle_history"
    __table_args__ = (Index("ix_lifecycle_history_entity_time", "entity_type", "entity_id", "at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(40), nullable=False)  # the Lifecycle's entity_type
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    from_status: Mapped[str] = mapped_column(String(30), nullable=False)
    to_status: Mapped[str] = mapped_column(String(30), nullable=False)
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))  # None: the system
    actor_role: Mapped[str] = mapped_column(String(20), nullable=False)
    source: Mapped[str] = mapped_column(String(40), nullable=False)  # api, or the capability that signalled
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
