"""Activities of AuditChainCheckWorkflow: check every firm's audit chain against the last anchor in the S3 store,
and write a new anchor (domain/audit/anchor.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.audit.anchor import ANCHOR_CONTENT_TYPE, ANCHOR_PREFIX, anchor_document, anchor_key, check_chains
from integrations.providers import ObjectStorage


class AuditChainActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], storage: ObjectStorage):
        self.sessionmaker, self.storage = sessionmaker, storage

    async def _last_anchor(self) -> tuple[str | None, bytes | None]:
        key = await asyncio.to_thread(self.storage.last_key, ANCHOR_PREFIX)
        return key, None if key is None else await asyncio.to_thread(self.storage.get_bytes, key)

    @activity.defn(name="audit_chain.check")
    async def check(self) -> list[str]:
        """The firms whose chain is broken or does not match the last anchor; the check is recorded either way
        (a retry records another, harmless)."""
        key, anchor = await self._last_anchor()
        async with self.sessionmaker.begin() as session:
            check = await check_chains(session, anchor, key)
        return [b["firm_id"] for b in check.breaks]

    @activity.defn(name="audit_chain.anchor")
    async def anchor(self, broken_firms: list[str]) -> str:
        """Write the chain heads as a new anchor object (a broken firm's as the last anchor had it); its key. A
        retry writes another anchor of the same heads, harmless."""
        now = datetime.now(timezone.utc)
        _, previous = await self._last_anchor()
        async with self.sessionmaker() as session:
            document = await anchor_document(session, now, set(broken_firms), previous)
        key = anchor_key(now)
        await asyncio.to_thread(self.storage.put_bytes, key, document, ANCHOR_CONTENT_TYPE)
        return key
