"""Audit rows of reads (a list page of client PII), committed before the answer leaves, many requests' rows in
one commit.

Why not in the request's own transaction, as a change's row is: the insert trigger links each row to its firm's
chain head under that head's row lock, held until the transaction ends (migrations 0012_audit_chain). In the
request's transaction the lock was held from the INSERT's answer through the event-loop turn that sends COMMIT
and through the commit's WAL flush, so a firm's concurrent list pages queued one behind the other on it
(bench/bench_client.py). Here the rows go out as one multi-row INSERT on an autocommit connection: the lock is
taken and released inside Postgres, one statement, one WAL flush for every row waiting meanwhile. The writer
keeps its connection between batches (one of the pool's, in autocommit): a checkout per batch was a ping round
trip and an isolation level set and reset, for a one-statement write.

The guarantee is the one a read needs and the request's transaction gave: `append` returns only once the row is
committed, and it raises when it could not be, so the caller answers an error instead of the data. A row whose
answer then fails to leave is kept: a read audited but not delivered is harmless, one delivered but not audited
is what this prevents.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.audit.models import AuditEntry

log = logging.getLogger(__name__)

# The columns the app writes; the rest are the database's (id, occurred_at, the chain).
# Rows per INSERT: 11 parameters each, far under Postgres's 65,535 per statement.
BATCH_ROWS = 500
COLUMNS = ("firm_id", "actor_id", "actor_role", "action", "resource_type", "resource_id", "client_id",
           "correlation_id", "request_id", "ip_address", "details")
# One statement for any number of rows, compiled once: with RETURNING, SQLAlchemy sends a list of rows as one
# multi-row INSERT ("insertmanyvalues", up to 1,000 rows a statement), where `.values(rows)` was compiled afresh
# for every batch (5 % of the API's CPU on a list page, session 27).
WRITE = insert(AuditEntry).returning(AuditEntry.id)


class CommittedReadAudit:
    """One per process (AppState). Rows that arrive while an INSERT is out wait for it to return and then go
    together in the next: no timer, so a lone request waits for its own row's commit only."""

    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self._waiting: list[tuple[dict, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None
        self._connection: AsyncConnection | None = None  # the writer's, kept between batches (on the writer's loop)

    async def append(self, entry: AuditEntry) -> None:
        row = {column: getattr(entry, column) for column in COLUMNS}
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._waiting.append((row, done))
        if self._writer is None or self._writer.done() or self._writer.get_loop() is not loop:
            if self._writer is not None and self._writer.get_loop() is not loop:
                # A connection belongs to the loop that opened it: a new loop's writer opens its own.
                self._connection = None
            self._writer = loop.create_task(self._write_while_waiting())
        # shield: a caller that goes away (a closed connection) does not cancel the INSERT the others wait for
        await asyncio.shield(done)

    async def _write_while_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:BATCH_ROWS], self._waiting[BATCH_ROWS:]
            # Chain heads locked in one order (by firm) by every process's INSERT: two batches naming the same
            # two firms cannot deadlock.
            batch.sort(key=lambda item: str(item[0]["firm_id"]))
            rows = [row for row, _ in batch]
            try:
                try:
                    await (await self._connected()).execute(WRITE, rows)
                except DBAPIError as exc:
                    if not exc.connection_invalidated:
                        raise
                    # The kept connection died (Postgres restarted meanwhile): once more, on a new one. A row
                    # written twice is a read audited twice; a read not audited is what this module prevents.
                    await self._drop_connection()
                    await (await self._connected()).execute(WRITE, rows)
            except Exception as exc:  # every waiting request answers the error (a 503 when Postgres is away)
                log.warning("audit rows of %d reads not written (%s)", len(batch), type(exc).__name__)
                await self._drop_connection()
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def close(self) -> None:
        """At shutdown, after the last request: the kept connection back to the pool, so dispose closes it."""
        await self._drop_connection()

    async def _connected(self) -> AsyncConnection:
        if self._connection is None:
            connection = await self.engine.connect()
            self._connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        return self._connection

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await connection.close()
            except Exception:  # already broken: the pool replaces it
                pass
