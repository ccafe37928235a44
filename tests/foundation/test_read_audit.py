"""Audit rows of PII reads committed before the answer, several requests' rows per INSERT
(domain/audit/read_log.py), and the request rate limiter's counters sent in batches (domain/rate_limit.py)."""

from __future__ import annotations

import asyncio
import time
import uuid

from sqlalchemy import select

from domain.audit.chain import verify_chain
from domain.audit.models import AuditEntry
from domain.rate_limit import SYNC_EVERY_S, RateLimitWindow, SharedCounters, SyncedCounters


async def test_concurrent_list_pages_each_have_a_committed_row_and_the_chain_holds(tp):
    firm = await tp.new_firm()
    _, admin = await tp.staff(firm, "admin")
    await tp.new_client(admin)
    correlation_ids = [f"list-{uuid.uuid4().hex[:8]}" for _ in range(12)]

    async def list_page(correlation_id: str) -> None:
        response = await tp.http.get("/v1/clients", headers={**admin, "X-Correlation-ID": correlation_id})
        assert response.status_code == 200, response.text
        # Committed before the answer: visible to another connection the moment the page arrives.
        async with tp.state.sessionmaker() as session:
            row = (await session.execute(select(AuditEntry).where(
                AuditEntry.correlation_id == correlation_id))).scalar_one()
        assert row.action == "client.list" and row.firm_id == firm and row.details == {"count": 1}
        assert row.request_id == response.json()["meta"]["request_id"]

    await asyncio.gather(*(list_page(c) for c in correlation_ids))
    async with tp.state.sessionmaker() as session:
        report = await verify_chain(session, firm)
    assert report.intact, report.first_break


async def test_hits_below_half_the_limit_reach_the_shared_table_within_a_sync(tp):
    counters = SyncedCounters(SharedCounters(tp.state.engine))
    bucket, window_start = f"standard:test-{uuid.uuid4().hex}", int(time.time() // 300) * 300
    counts = [await counters.hit(bucket, window_start, 300, limit=100) for _ in range(3)]
    assert counts == [1, 2, 3]  # counted here at once
    await asyncio.sleep(SYNC_EVERY_S * 5)
    async with tp.state.sessionmaker() as session:
        shared = (await session.execute(select(RateLimitWindow.hits).where(
            RateLimitWindow.bucket == bucket, RateLimitWindow.window_start == window_start))).scalar_one()
    assert shared == 3

    # Another process's hits: from half the limit on, each hit is added before it is answered, so this process
    # answers the shared count, its own and the other's together.
    other = SyncedCounters(SharedCounters(tp.state.engine))
    await other.shared.add({(bucket, window_start): 60})
    assert await counters.hit(bucket, window_start, 300, limit=100) == 3 + 1  # below half: not asked yet
    assert await counters.hit(bucket, window_start, 300, limit=8) == 3 + 60 + 2  # past half: the shared count
