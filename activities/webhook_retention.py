"""The activity of WebhookEventPruneWorkflow: delete outbound webhooks' events past their retention."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.outbound_webhook.retention import prune


class PruneResult(BaseModel):
    events: int
    deliveries: int
    attempts: int


class WebhookRetentionActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], retention: timedelta):
        self.sessionmaker, self.retention = sessionmaker, retention

    @activity.defn(name="webhook.prune_events")
    async def prune_events(self) -> PruneResult:
        """What went. Idempotent: a retried prune finds fewer rows, never the wrong ones."""
        done = await prune(self.sessionmaker, datetime.now(timezone.utc) - self.retention)
        activity.logger.info("webhook retention: %s events, %s deliveries, %s attempts deleted",
                             done.events, done.deliveries, done.attempts)
        return PruneResult(events=done.events, deliveries=done.deliveries, attempts=done.attempts)
