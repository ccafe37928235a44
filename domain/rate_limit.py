"""Rate-limit counters shared by every API process (issue 13): one row per (bucket, window), counted in Postgres,
so N API processes enforce the limit together instead of giving a caller N times it. The table is UNLOGGED:
counters are worth a write-ahead log to nobody, and a crash that empties it only restarts the windows."""

from __future__ import annotations

import logging
import time

from sqlalchemy import BigInteger, Integer, String, bindparam, delete
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
