"""Rate-limit counters shared by every API process (issue 13): one row per (bucket, window), counted in Postgres,
so N API processes enforce the limit together instead of giving a caller N times it. The table is UNLOGGED:
counters are worth a write-ahead log to nobody, and a crash that empties it only restarts the windows."""

from __future__ import annotations

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
