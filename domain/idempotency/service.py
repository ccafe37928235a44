"""The idempotency-key store behind the middleware. Each step is its own short transaction: the key is
claimed before the request runs, so two concurrent requests with one key cannot both run it.

What a record keeps is a 24 h cache of requests that carry client data (a client create holds a name, a birth
date, an SSN whose last four digits the response returns), so (issue 13, medium 6):
- the request is fingerprinted with a keyed hash (HMAC-SHA256 under IDEMPOTENCY_HASH_KEY), never a plain digest:
  someone who reads the table cannot test guessed bodies against it (an SSN has 10^5 values once its last four
  are known);
- the stored response body is AES-256-GCM ciphertext (`FieldCipher`, the SSN key), bound to its record (caller,
  key, request fingerprint) as associated data, so a body copied onto another record does not open;
- records older than the TTL are deleted on a schedule (`purge_expired`, run by the IdempotencyPurge workflow),
  not only when their key is used again.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.crypto import FieldCipher
from domain.idempotency.models import IdempotencyRecord


# Longer than any request may take (uvicorn and proxies time out well before), so a claim this old is abandoned.
ABANDONED_AFTER = timedelta(minutes=5)


class Outcome(Enum):
    PROCEED = "proceed"  # first time: run the request
    REPLAY = "replay"  # done before with the same request: answer the stored response
    MISMATCH = "mismatch"  # the key was used with another request
    IN_FLIGHT = "in_flight"  # the first request with this key is still running


@dataclass(frozen=True)
class StoredResponse:
    """What the first request answered, decrypted: what a replay answers."""

    status: int
    headers: dict[str, str]
    body: bytes


def request_hash(hash_key: bytes, principal: str, key: str, method: str, path: str, query: bytes,
                 body: bytes) -> bytes:
    """HMAC-SHA256 of the request under `hash_key`. Each part is length-prefixed, so no two different requests
    frame to the same bytes; the caller and the key are in it too, so equal bodies of two callers (or under two
    keys) do not show as equal fingerprints in the table."""
    mac = hmac.new(hash_key, digestmod=hashlib.sha256)
    for part in (principal.encode(), key.encode(), method.encode(), path.encode(), query, body):
        mac.update(len(part).to_bytes(8, "big"))
        mac.update(part)
    return mac.digest()


def associated_data(principal: str, key: str, fingerprint: bytes) -> bytes:
    """Binds a stored body to its record: it opens only for the caller, key and request it answered."""
    return b"idempotency_keys\0" + principal.encode() + b"\0" + key.encode() + b"\0" + fingerprint


async def purge_expired(sessionmaker: async_sessionmaker[AsyncSession], ttl: timedelta,
                        now: datetime | None = None) -> int:
    """Delete every record older than the TTL (a replay of it would be refused as expired anyway), and every
    claim abandoned in flight. How many rows went."""
    now = now or datetime.now(timezone.utc)
    async with sessionmaker.begin() as session:
        result = await session.execute(delete(IdempotencyRecord).where(
            (IdempotencyRecord.created_at < now - ttl)
            | (IdempotencyRecord.status_code.is_(None) & (IdempotencyRecord.created_at < now - ABANDONED_AFTER))))
        return result.rowcount


class IdempotencyStore:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], ttl: timedelta, cipher: FieldCipher,
                 hash_keys: Sequence[bytes]):
        """`hash_keys`: the current HMAC key first; any other (the previous one, while rotating) still matches
        the records made under it, so a retry across a rotation replays instead of being refused."""
        if not hash_keys:
            raise ValueError("the idempotency store needs a hash key")
        self.sessionmaker, self.ttl, self.cipher, self.hash_keys = sessionmaker, ttl, cipher, list(hash_keys)

    async def begin(self, principal: str, key: str, method: str, path: str, query: bytes,
                    body: bytes) -> tuple[Outcome, StoredResponse | None]:
        fingerprints = [request_hash(k, principal, key, method, path, query, body) for k in self.hash_keys]
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
                .values(principal=principal, key=key, method=method, path=path, request_hash=fingerprints[0],
                        created_at=now)
                .on_conflict_do_nothing()
                .returning(IdempotencyRecord.key)
            )
            if claimed.first() is not None:
                return Outcome.PROCEED, None
            record = (await session.execute(select(IdempotencyRecord).where(
                IdempotencyRecord.principal == principal, IdempotencyRecord.key == key))).scalar_one()
        # A record fingerprinted by no key we hold (another request, or one made under a key since dropped)
        # is another request: refused, never run a second time.
        if not any(hmac.compare_digest(record.request_hash, f) for f in fingerprints):
            return Outcome.MISMATCH, None
        if record.status_code is None:
            return Outcome.IN_FLIGHT, None
        # A body that does not open (tampered with, or moved from another record) raises: the request ran once
        # already, so answering anything but its own response, or running it again, would be wrong.
        body = self.cipher.decrypt_bytes(record.response_body,
                                         associated_data(principal, key, record.request_hash))
        return Outcome.REPLAY, StoredResponse(record.status_code, dict(record.response_headers or {}), body)

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
            record.status_code, record.response_headers = status, headers
            record.response_body = self.cipher.encrypt_bytes(
                body, associated_data(principal, key, record.request_hash))
            record.completed_at = datetime.now(timezone.utc)

    async def purge_expired(self) -> int:
        return await purge_expired(self.sessionmaker, self.ttl)
