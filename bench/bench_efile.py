"""E-filing: N returns transmitted at once through the API, until every acknowledgement is recorded.

Baseline in the same run: the transmitter sandbox's own acknowledgement delay after it received the last
submission — the earliest every acknowledgement could be recorded. What the system adds on top is the
submission path (API → outbox → EfileTransmissionWorkflow → activity → transmitter) and the acknowledgement
path (signed webhook → ledger → signal → activity → return workflow Updates). Worker memory: RSS before, after
and its peak (VmHWM of a worker started for this benchmark). Returns and their 8879s are written to Postgres
directly (ready_to_file, as the signature capability leaves them); the transmissions go through the API.
The machine is shared (2 cores, several engineers): figures are noisy.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from datetime import date, datetime, timezone

import httpx
from sqlalchemy import func, select

from bench.harness import BenchEnv, Stats, process_peak_rss_mb, process_rss_mb, sized
from devstack.ports import free_port
from domain.client.models import Client
from domain.document.models import Document
from domain.efile.models import EfileAcknowledgement, EfileTransmission
from domain.tax_return.models import TaxReturn

BENCH = "efile"
RETURNS = sized(500, smallest=5)
ACK_DELAY_S = 3.0


async def _ready_returns(env: BenchEnv, firm_id: uuid.UUID, count: int) -> list[uuid.UUID]:
    now = datetime.now(timezone.utc)
    ids = []
    async with env.sessionmaker.begin() as session:
        for i in range(count):
            client = Client(id=uuid.uuid4(), firm_id=firm_id, account_number=f"B-{uuid.uuid4().hex[:12]}",
                            client_type="individual", name=f"Bench Taxpayer{i}", email=f"bench{i}@example.com",
                            status="active", identity_verification_status="unverified")
            tax_return = TaxReturn(id=uuid.uuid4(), firm_id=firm_id, client_id=client.id, tax_year=2025,
                                   return_type="1040", status="ready_to_file", status_entered_at=now,
                                   extension_filed=False, due_date=date(2026, 4, 15), priority="normal",
                                   federal_status="not_started", state_filings=[])
            session.add_all([client, tax_return])
            await session.flush()
            session.add(Document(id=uuid.uuid4(), firm_id=firm_id, client_id=client.id, return_id=tax_return.id,
                                 tax_year=2025, document_type="FORM_8879", filename="8879.pdf", file_size=1,
                                 mime_type="application/pdf", sha256="0" * 64, s3_key=f"bench/{uuid.uuid4()}",
                                 status="processed", source="staff_upload", uploaded_by_role="admin"))
            ids.append(tax_return.id)
    return ids


async def _count(env: BenchEnv, firm_id: uuid.UUID) -> tuple[int, int]:
    async with env.sessionmaker() as session:
        acks = (await session.execute(select(func.count()).select_from(EfileAcknowledgement).join(
            EfileTransmission, EfileTransmission.id == EfileAcknowledgement.transmission_id).where(
            EfileTransmission.firm_id == firm_id))).scalar_one()
        complete = (await session.execute(select(func.count()).select_from(TaxReturn).where(
            TaxReturn.firm_id == firm_id, TaxReturn.status == "complete"))).scalar_one()
    return acks, complete


async def run(env: BenchEnv) -> None:
    sandbox_port = free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    api_url = env.spawn_uvicorn("api-efile", "api.app:create_app", EFILING_API_URL=sandbox_url)
    env.spawn("efile-sandbox", [sys.executable, "-m", "sandboxes.efile", "--port", str(sandbox_port),
                                "--webhook-url", f"{api_url}/v1/webhooks/efiling"],
              EFILE_SANDBOX_ACK_DELAY_S=str(ACK_DELAY_S))
    worker = env.restart_worker(EFILING_API_URL=sandbox_url)
    await asyncio.sleep(2)  # the worker's pollers
    firm_id = await env.tp.new_firm("E-file benchmark firm")
    _, headers = await env.tp.staff_session(firm_id, "ea_cpa")
    returns = await _ready_returns(env, firm_id, RETURNS)
    rss_before = process_rss_mb(worker.proc.pid)

    latencies, errors = [], {}
    limit = asyncio.Semaphore(64)
    async with httpx.AsyncClient(base_url=api_url, timeout=120,
                                 limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)) as http:
        async def transmit(return_id: uuid.UUID) -> None:
            async with limit:
                began = time.perf_counter()
                response = await http.post(f"/v1/returns/{return_id}/efiling/transmit", headers=headers,
                                           json={"jurisdictions": ["federal"]})
                if response.status_code != 202:
                    key = f"HTTP {response.status_code}: {response.text[:120]}"
                    errors[key] = errors.get(key, 0) + 1
                    return
                latencies.append((time.perf_counter() - began) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(transmit(r) for r in returns))
        answered_s = time.perf_counter() - started
    from collections import Counter
    stats = Stats.of(latencies, answered_s, Counter(errors))

    peak_rss, all_acked_s, all_complete_s = rss_before, None, None
    deadline = time.perf_counter() + 600
    while time.perf_counter() < deadline:
        acks, complete = await _count(env, firm_id)
        now_s = time.perf_counter() - started
        peak_rss = max(peak_rss, process_rss_mb(worker.proc.pid))
        if all_acked_s is None and acks >= len(latencies):
            all_acked_s = now_s
        if complete >= len(latencies):
            all_complete_s = now_s
            break
        await asyncio.sleep(0.25)
    async with httpx.AsyncClient() as http:
        received = [datetime.fromisoformat(s["received_at"])
                    for s in (await http.get(f"{sandbox_url}/_sandbox/submissions")).json()]
    wall_started = datetime.now(timezone.utc).timestamp() - (time.perf_counter() - started)
    last_received_s = max(r.timestamp() for r in received) - wall_started if received else float("nan")

    env.report_stats(BENCH, f"transmit ({len(returns)} at once)", stats)
    env.report(BENCH, "all transmit requests answered", round(answered_s, 2), "s")
    env.report(BENCH, "last submission reached the transmitter", round(last_received_s, 2), "s")
    env.report(BENCH, "baseline: sandbox acknowledgement delay", ACK_DELAY_S, "s")
    env.report(BENCH, "baseline: earliest all acks (last receipt + delay)", round(last_received_s + ACK_DELAY_S, 2),
               "s")
    env.report(BENCH, "every acknowledgement recorded", round(all_acked_s, 2) if all_acked_s else float("nan"), "s")
    env.report(BENCH, "every return complete", round(all_complete_s, 2) if all_complete_s else float("nan"), "s")
    env.report(BENCH, "worker RSS before", rss_before, "MB")
    env.report(BENCH, "worker RSS after", process_rss_mb(worker.proc.pid), "MB")
    env.report(BENCH, "worker RSS peak (sampled)", peak_rss, "MB")
    env.report(BENCH, "worker RSS high-water mark", process_peak_rss_mb(worker.proc.pid), "MB")
