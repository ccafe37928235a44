"""SQLAlchemy foundations: the declarative base, the async engine, and small column helpers.

Services never commit: the request (or the activity) that opened the session owns the transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import MetaData, DateTime, func
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.dialects.postgresql import UUID

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)


def created_at_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now(), default=utcnow)


def updated_at_column() -> Mapped[datetime]:
    return mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), default=utcnow, onupdate=utcnow
    )


def make_engine(database_url: str, pool_size: int = 20, pre_ping: bool = True, role: str = "",
                pool_timeout_s: float = 30.0) -> AsyncEngine:
    """`pool_size`: the connections the process keeps open, and never more. No overflow: SQLAlchemy closes an
    overflow connection as soon as it is returned, so a process serving more concurrent requests than its kept
    pool opened and closed a Postgres connection (a backend forked, authenticated, its role set) for nearly every
    request past it: 16 concurrent list pages against 10 kept and 10 overflow spent 1.3 ms more of Postgres CPU
    and 0.9 ms more of the API's on each (bench/bench_client.py, session 27). The cap is what it was (10 kept and
    10 overflow), now all kept once a burst has opened them.

    `pre_ping`: test each pooled connection with a round trip before handing it out, so a request after a
    Postgres restart does not fail on a dead connection. Workers turn it off (worker.py).

    `role`: every connection acts as this database role from its start (settings.database_app_role), set in the
    connection's startup options rather than by a statement, so no rollback or pool reset can undo it. The
    app's role may read and write rows but only append to and read the audit log, and owns nothing, so it
    cannot disable the audit log's triggers (migrations/versions/0012_audit_chain.py).

    `pool_timeout_s`: how long a caller waits for a pooled connection before sqlalchemy.exc.TimeoutError (the
    API answers it 503 with Retry-After, api/problems.py)."""
    connect_args = {"options": f"-c role={role}"} if role else {}
    # hide_parameters: a failed statement's exception (and so its traceback in a log) names no bound value, which
    # would be a client's name, email or birth date.
    return create_async_engine(database_url, pool_size=pool_size, max_overflow=0, pool_pre_ping=pre_ping,
                               pool_timeout=pool_timeout_s, connect_args=connect_args, hide_parameters=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
