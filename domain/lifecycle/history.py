"""Reading and writing `lifecycle_history`, the same way for every lifecycle entity."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.lifecycle import Lifecycle
from domain.lifecycle.models import LifecycleHistory


def insert_once(lifecycle: Lifecycle, **values) -> Insert:
    """The history row of one transition of `lifecycle`'s entity, inserted only if its id (the transition id
    the workflow generated) is new; RETURNING its id then, nothing on a retry. `values` are the other columns
    (or bind parameters, for a statement built once)."""
    return (insert(LifecycleHistory).values(entity_type=lifecycle.entity_type, **values)
            .on_conflict_do_nothing(index_elements=["id"]).returning(LifecycleHistory.id))


async def entries(session: AsyncSession, lifecycle: Lifecycle, entity_id: uuid.UUID) -> list[LifecycleHistory]:
    """The entity's transitions, oldest first (ties in time by id, so the order is stable)."""
    rows = await session.execute(select(LifecycleHistory).where(
        LifecycleHistory.entity_type == lifecycle.entity_type, LifecycleHistory.entity_id == entity_id,
    ).order_by(LifecycleHistory.at, LifecycleHistory.id))
    return list(rows.scalars())
