"""The activity of IdempotencyPurgeWorkflow: delete the idempotency records older than the TTL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.idempotency.service import purge_expired


class IdempotencyActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], ttl: timedelta):
        self.sessionmaker, self.ttl = sessionmaker, ttl

    @activity.defn(name="idempotency.purge_expired")
    async def purge_expired(self) -> int:
        """How many records went. Idempotent: a retried delete finds fewer rows, never the wrong ones."""
        return await purge_expired(self.sessionmaker, self.ttl)
