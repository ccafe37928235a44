"""Rate-limit counters shared by every API process (issue 13): one row per (bucket, window), counted in Postgres,
so N API processes enforce the limit together instead of giving a caller N times it. The table is UNLOGGED:
counters are worth a write-ahead log to nobody, and a crash that empties it only restarts the windows."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import BigInteger, Integer, String, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base

log = logging.getLogger(__name__)

# Old windows are deleted by whichever process counts the PRUNE_EVERY-th hit: no scheduler needed for a table
# that only ever holds the current windows' rows.
PRUNE_EVERY = 1000
KEEP_S = 3600


class RateLimitWindow(Base):
    __tablename__ = "rate_limit_windows"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    bucket: Mapped[str] = mapped_column(String(200), primary_key=True)  # category:caller
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch seconds
    hits: Mapped[int] = mapped_column(Integer, nullable=False)


HIT = insert(RateLimitWindow).values(
    bucket=bindparam("bucket"), window_start=bindparam("window_start"), hits=1,
).on_conflict_do_update(index_elements=["bucket", "window_start"],
                        set_={"hits": RateLimitWindow.hits + 1}).returning(RateLimitWindow.hits)
# A sliding window's hit, counted only while the current window holds fewer than `allowance` hits: a refused
# attempt is not counted, so a refusal ends as the window slides however hard someone keeps knocking.
ADMIT = insert(RateLimitWindow).values(
    bucket=bindparam("bucket"), window_start=bindparam("window_start"), hits=1,
).on_conflict_do_update(index_elements=["bucket", "window_start"], set_={"hits": RateLimitWindow.hits + 1},
                        where=RateLimitWindow.hits < bindparam("allowance")).returning(RateLimitWindow.hits)
TWO_WINDOWS = select(RateLimitWindow.window_start, RateLimitWindow.hits).where(
    RateLimitWindow.bucket == bindparam("bucket"),
    RateLimitWindow.window_start.in_(bindparam("starts", expanding=True)))
# Hits of several buckets added in one statement (SyncedCounters): `excluded.hits` is what it adds to each.
_ADD = insert(RateLimitWindow)
ADD = _ADD.on_conflict_do_update(index_elements=["bucket", "window_start"],
                                 set_={"hits": RateLimitWindow.hits + _ADD.excluded.hits}).returning(
    RateLimitWindow.bucket, RateLimitWindow.window_start, RateLimitWindow.hits)
# How long a process's hits below half a limit wait to be sent, at most (SyncedCounters).
SYNC_EVERY_S = 0.1
PRUNE = delete(RateLimitWindow).where(RateLimitWindow.window_start < bindparam("before"))


class SharedCounters:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self._hits = 0

    async def hit(self, bucket: str, window_start: int) -> int:
        """This window's count for the bucket, this hit included: one statement, in autocommit."""
        async with self.engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            hits = (await connection.execute(HIT, {"bucket": bucket[:200], "window_start": window_start})).scalar_one()
            self._hits += 1
            if self._hits % PRUNE_EVERY == 0:
                await connection.execute(PRUNE, {"before": int(time.time()) - KEEP_S})
        return hits

    async def add(self, hits: dict[tuple[str, int], int]) -> list[tuple[str, int, int]]:
        """Add {(bucket, window start): hits} in one statement, in autocommit: each window's count after it."""
        # In one order in every process: two statements naming the same two rows cannot deadlock.
        rows = [{"bucket": bucket, "window_start": start, "hits": n} for (bucket, start), n in sorted(hits.items())]
        async with self.engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            counted = (await connection.execute(ADD.values(rows))).all()
            self._hits += 1
            if self._hits % PRUNE_EVERY == 0:
                await connection.execute(PRUNE, {"before": int(time.time()) - KEEP_S})
        return [tuple(row) for row in counted]

    async def admit(self, bucket: str, limit: int, window_s: int, now: float) -> int | None:
        """A sliding window of `limit` hits per `window_s` seconds (the previous fixed window weighed by how much of
        it still lies within the last `window_s` seconds, plus the current one): None when this hit is admitted
        and counted, else the seconds until one would be. Two statements; meant for rare routes (sign-in), not
        for every request."""
        bucket = bucket[:200]
        start = int(now // window_s) * window_s
        elapsed = now - start
        async with self.engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            counts = dict((await connection.execute(
                TWO_WINDOWS, {"bucket": bucket, "starts": [start - window_s, start]})).all())
            previous, current = counts.get(start - window_s, 0), counts.get(start, 0)
            allowance = limit - int(previous * (1 - elapsed / window_s))
            if current < allowance and (await connection.execute(ADMIT, {
                    "bucket": bucket, "window_start": start, "allowance": allowance})).first() is not None:
                return None
            current = max(current, allowance)  # a concurrent hit took the last place
        return sliding_retry_after(limit, window_s, elapsed, previous, current)


def sliding_retry_after(limit: int, window_s: int, elapsed: float, previous: int, current: int) -> int:
    """Whole seconds until the sliding window admits one more hit, if nobody hits meanwhile: first the previous
    window's weight fades, then (next window) the current one's. At most two windows; computed by stepping a
    second at a time, which only a refused hit pays for."""
    for wait in range(1, 2 * window_s + 1):
        at = elapsed + wait
        if at < window_s:
            estimate = int(previous * (1 - at / window_s)) + current
        else:  # the current window has become the previous one
            estimate = int(current * (1 - (at - window_s) / window_s))
        if estimate < limit:
            return wait
    return 2 * window_s


class SyncedCounters:
    """The request rate limiter's counters (api/middleware.RateLimiter): shared by every API process like
    SharedCounters.hit, at one statement per SYNC_EVERY_S for all callers together instead of one per request
    (with its pooled connection: a sixth of a list page's CPU, bench/client_list_parts.py).

    A hit is counted here at once. While a bucket is below half its limit its hits wait, at most SYNC_EVERY_S, to
    be added with every other bucket's in one statement; from half its limit on, each hit is added before it is
    answered, so the limit is decided on the shared count. What can slip past it: the hits other processes had
    counted but not yet sent while below half the limit, a tenth of a second of their traffic. While Postgres
    cannot count, `estimate` is this process's count alone."""

    def __init__(self, shared: SharedCounters):
        self.shared = shared
        self._counted: dict[tuple[str, int], int] = {}  # the shared count as last answered, own sent hits in it
        self._unsent: dict[tuple[str, int], int] = {}
        self._ends: dict[tuple[str, int], int] = {}  # when each window ends: then it is forgotten here
        self._sync: asyncio.Task | None = None

    def estimate(self, bucket: str, window_start: int) -> int:
        key = (bucket[:200], window_start)
        return self._counted.get(key, 0) + self._unsent.get(key, 0)

    async def hit(self, bucket: str, window_start: int, window_s: int, limit: int) -> int:
        """This window's count for the bucket, this hit included (shared from half the limit on)."""
        key = (bucket[:200], window_start)
        self._unsent[key] = self._unsent.get(key, 0) + 1
        self._ends[key] = window_start + window_s
        if 2 * self.estimate(*key) < limit:
            self._sync_soon()
            return self.estimate(*key)
        await self._send({key: self._unsent.pop(key)})
        return self.estimate(*key)

    async def _send(self, hits: dict[tuple[str, int], int]) -> None:
        """Add the hits to the shared table; if it cannot be done they stay unsent (counted here) and the error
        goes on."""
        try:
            counted = await self.shared.add(hits)
        except BaseException:
            for key, n in hits.items():
                self._unsent[key] = self._unsent.get(key, 0) + n
            raise
        for bucket, start, count in counted:  # max: answers of two statements in flight may come back crossed
            self._counted[(bucket, start)] = max(count, self._counted.get((bucket, start), 0))

    def _sync_soon(self) -> None:
        loop = asyncio.get_running_loop()
        if self._sync is None or self._sync.done() or self._sync.get_loop() is not loop:
            self._sync = loop.create_task(self._sync_after_pause())

    async def _sync_after_pause(self) -> None:
        await asyncio.sleep(SYNC_EVERY_S)
        hits, self._unsent = self._unsent, {}
        if hits:
            try:
                await self._send(hits)
            except Exception as exc:  # kept unsent: the next sync tries again
                log.warning("rate-limit counters not sent (%s); counting in this process meanwhile",
                            type(exc).__name__)
        now = time.time()
        self._ends = {key: end for key, end in self._ends.items() if end > now}
        self._counted = {key: n for key, n in self._counted.items() if key in self._ends}
        self._unsent = {key: n for key, n in self._unsent.items() if key in self._ends}
