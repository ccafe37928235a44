"""The activity of OutboxRelayWorkflow: deliver the outbox entries the API could not."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.crypto import FieldCipher
from integrations.mail import Mailer
from orchestration import outbox


class OutboxActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], mailer: Mailer, cipher: FieldCipher):
        # The cipher opens the entries' sealed payloads (orchestration/outbox.py), here at send time only.
        self.sessionmaker, self.mailer, self.cipher = sessionmaker, mailer, cipher

    @activity.defn(name="outbox.relay")
    async def relay_outbox(self, older_than_seconds: float) -> int:
        """How many entries did not fail; the others stay, with their failed attempt counted."""
        return await outbox.deliver_pending(activity.client(), self.sessionmaker, self.mailer,
                                            self.cipher, timedelta(seconds=older_than_seconds))
