"""The idempotency-key store behind the middleware. Each step is its own short transaction: the key is
claimed before the request runs, so two concurrent requests with one key cannot both run it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from enum import Enum

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.idempotency.models import IdempotencyRecord


# Longer than any request may take (uvicorn and proxies time out well before), so a claim this old is abandoned.
ABANDONED_AFTER = timedelta(minutes=5)


class Outcome(Enum):
    PROCEED = "proceed"  # first time: run the request
    REPLAY = "replay"  # done before with the same request: answer the stored response
    MISMATCH = "mismatch"  # the key was used with another request
    IN_FLIGHT = "in_flight"  # the first request with this key is still running


class IdempotencyStore:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], ttl: timedelta):
        self.sessionmaker, self.ttl = sessionmaker, ttl

    async def begin(self, principal: str, key: str, method: str, path: str,
                    request_hash: bytes) -> tuple[Outcome, IdempotencyRecord | None]:
        now = datetime.now(timezone.utc)
        async with self.sessionmaker.begin() as session:
            # Keys older than the TTL are forgotten: the same key may then start a new request. So is a claim
            # still "in flight" long after any request could have finished: its process died mid-request.
            await session.execute(delete(IdempotencyRecord).where(
                IdempotencyRecord.principal == principal, IdempotencyRecord.key == key,
                (IdempotencyRecord.created_at < now - self.ttl)
                | (IdempotencyRecord.status_code.is_(None) & (IdempotencyRecord.created_at < now - ABANDONED_AFTER))))
            claimed = await session.execute(
                insert(IdempotencyRecord)
                .values(principal=principal, key=key, method=method, path=path, request_hash=request_hash,
                        created_at=now)
                .on_conflict_do_nothing()
                .returning(IdempotencyRecord.key)
            )
            if claimed.first() is not None:
                return Outcome.PROCEED, None
            record = (await session.execute(select(IdempotencyRecord).where(
                IdempotencyRecord.principal == principal, IdempotencyRecord.key == key))).scalar_one()
        if record.request_hash != request_hash:
            return Outcome.MISMATCH, record
        if record.status_code is None:
            return Outcome.IN_FLIGHT, record
        return Outcome.REPLAY, record

    async def finish(self, principal: str, key: str, status: int, body: bytes, headers: dict[str, str]) -> None:
        async with self.sessionmaker.begin() as session:
            record = await session.get(IdempotencyRecord, (principal, key))
            if record is None:
                return
            if status >= 400:
                # An error answer changed nothing (its transaction rolled back), and a server failure is not
                # worth replaying: free the key, so the corrected retry runs (Stripe saves no result for a
                # request refused before it ran, e.g. one that failed validation).
                await session.delete(record)
                return
            record.status_code, record.response_body, record.response_headers = status, body, headers
            record.completed_at = datetime.now(timezone.utc)

    async def purge_expired(self) -> int:
        async with self.sessionmaker.begin() as session:
            result = await session.execute(delete(IdempotencyRecord).where(
                IdempotencyRecord.created_at < datetime.now(timezone.utc) - self.ttl))
            return result.rowcount
