"""The activity of TaxReturnOutboxRelayWorkflow: deliver the outbox entries the API could not."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from workflows import tax_return_outbox


class TaxReturnOutboxActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]):
        self.sessionmaker = sessionmaker

    @activity.defn(name="tax_return.relay_outbox")
    async def relay_outbox(self, older_than_seconds: float) -> int:
        """How many entries did not fail; the others stay, with their failed attempt counted."""
        return await tax_return_outbox.deliver_pending(activity.client(), self.sessionmaker,
                                                       timedelta(seconds=older_than_seconds))
