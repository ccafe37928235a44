"""Billing: 1,000 estimated-payment schedules through the API, reminders coming due at once, Stripe webhook ingestion.

Figures, each against a baseline measured in the same run:
- schedules per second through POST /v1/returns/{id}/estimated-payments (validation, authorization, audit,
  5 rows, a workflow started with signal-with-start) against a bare endpoint inserting the same 5 rows;
- the worker's resident memory before and after 1,000 schedule workflows are asleep on their timers;
- how late reminders fire when 300 come due in the same second, against one reminder due alone: an API
  process started with REMINDER_TIME_UTC a few seconds ahead starts the schedules, whose first quarter is
  then moved so that its 14-day reminder falls on that instant (the real path: PATCH → signal → timer →
  activity → SMTP → Postgres);
- signed webhook events per second through POST /v1/webhooks/stripe (each records a payment) and again as
  duplicates, against a bare endpoint that only verifies the signature.
Each burst and webhook phase also prints the CPU it cost per reminder / event, by part of the stack (the figure
contention distorts least on a shared machine).

Parameters (environment), for runs the default `make bench` does not make:
- BILLING_PHASES: which of `schedules,reminders,webhooks` to run (default: all);
- BILLING_BURSTS: the burst sizes, e.g. `300,3000` (default 300): the reminder lateness at each;
- BILLING_WORKERS: billing worker processes during the bursts (default 1: the bench's all-queues worker; 2 adds
  a `worker.py --queue billing` process, as a second billing worker in production would);
- BILLING_SETUP_RATE: schedules a second the set-up before a burst is expected to manage (lead_s).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from bench.harness import WORKER_ENV, BenchEnv, process_rss_mb, sized, smoke_run
from sandboxes.payments import signature_header

BENCH = "billing"
PHASES = set(os.environ.get("BILLING_PHASES", "schedules,reminders,webhooks").split(","))
SCHEDULES = sized(1_000, smallest=4)
WARMUP = sized(20, smallest=2)
BURSTS = [sized(int(n), smallest=2) for n in os.environ.get("BILLING_BURSTS", "300").split(",")]
BILLING_WORKERS = int(os.environ.get("BILLING_WORKERS", "1"))
WEBHOOKS = sized(1_000, smallest=4)
CONCURRENCY = 16
INVOICES = sized(20, smallest=2)


def lead_s(count: int) -> float:
    """Seconds from now to the instant the reminders fall due: time to create their schedules first, each created
    and then moved, at BILLING_SETUP_RATE a second (4 by default: a busy 2-core machine; on one loaded by other
    work, set it lower, or the set-up overruns the instant and the lateness means nothing)."""
    return 8 if smoke_run() else 30 + count / float(os.environ.get("BILLING_SETUP_RATE", "4"))


async def seed_returns(env: BenchEnv, firm_id, client_id: str, count: int) -> list[uuid.UUID]:
    """Returns to hang schedules on, in one INSERT … SELECT (the returns API is not what is measured). A client
    has one live return per tax year and type, so each gets a pair of its own, after the pairs its earlier
    returns took (the schedules carry their own tax year)."""
    async with env.sessionmaker.begin() as session:
        client = uuid.UUID(client_id)
        taken = await session.scalar(text("SELECT count(*) FROM tax_returns WHERE client_id = :client"),
                                     {"client": client})
        rows = await session.execute(text(
            "INSERT INTO tax_returns (id, firm_id, client_id, tax_year, return_type, status, extension_filed, "
            "due_date, priority, federal_status, state_filings) "
            "SELECT gen_random_uuid(), :firm, :client, 2026 - n / 8, "
            "(ARRAY['1040', '1041', '1065', '1120', '1120S', '990', '706', '709'])[1 + n % 8], "
            "'intake', false, '2027-04-15', 'normal', 'not_started', '[]'::jsonb "
            "FROM generate_series(:taken, :taken + :count - 1) AS n RETURNING id"),
            {"firm": firm_id, "client": client, "count": count, "taken": taken})
        return list(rows.scalars())


def _at(index: int) -> int:
    """measure() calls fn(-1 … -WARMUP) to warm up, then fn(0 … N-1): one slot each."""
    return -1 - index if index < 0 else WARMUP + index


async def bench_schedules(env: BenchEnv, firm_id, client: dict, headers: dict, bare_url: str, year: int):
    returns = await seed_returns(env, firm_id, client["id"], 2 * (SCHEDULES + WARMUP))
    api_returns, bare_returns = returns[: SCHEDULES + WARMUP], returns[SCHEDULES + WARMUP:]
    body = {"tax_year": year, "federal_annual": "20000.00", "state_annual": "6000.00",
            "payment_method": "equal_quarterly"}

    async def api(i):
        response = await env.http.post(f"/v1/returns/{api_returns[_at(i)]}/estimated-payments", headers=headers,
                                       json=body)
        response.raise_for_status()

    async def bare(i):
        response = await env.http.post(f"{bare_url}/bare/schedules", params={
            "firm": str(firm_id), "client": client["id"], "ret": str(bare_returns[_at(i)]), "year": year})
        response.raise_for_status()

    bare_stats = await env.measure(bare, CONCURRENCY, SCHEDULES, warmup=WARMUP)
    api_stats = await env.measure(api, CONCURRENCY, SCHEDULES, warmup=WARMUP)
    env.report_stats(BENCH, "bare insert of schedule + 4 quarters", bare_stats)
    env.report_stats(BENCH, "API create schedule (+ workflow)", api_stats)
    env.report(BENCH, "schedules created through the API", api_stats.count, "schedules")
    env.report(BENCH, "ratio throughput bare/API", round(bare_stats.rps / api_stats.rps, 2), "x")
    return api_stats


async def settle(env: BenchEnv, firm_id, expected: int, timeout_s: float = 600) -> int:
    """Wait until the worker has planned every schedule (NextReminderAt set), as Temporal's visibility shows."""
    query = (f"EntityType = 'estimated_payment_schedule' AND FirmId = '{firm_id}' "
             f"AND NextReminderAt > '2000-01-01T00:00:00Z'")
    return await env.wait_for_workflows(query, expected, timeout_s)


async def _fired(env: BenchEnv, payment_ids: list[uuid.UUID], instant: datetime) -> list[float]:
    async with env.sessionmaker() as session:
        rows = await session.execute(text(
            "SELECT extract(epoch FROM sent_at - scheduled_for) FROM estimated_payment_reminders "
            "WHERE payment_id = ANY(:ids) AND reminder_type = '14_day' AND scheduled_for = :at"),
            {"ids": payment_ids, "at": instant})
        return [float(v) for v in rows.scalars()]


async def reminders_due_at_once(env: BenchEnv, firm_id, client: dict, headers: dict, year: int, count: int,
                                lead_s: float, label: str) -> None:
    """`count` schedules whose first 14-day reminder falls on the same second, `lead_s` seconds from now."""
    instant = (datetime.now(timezone.utc) + timedelta(seconds=lead_s)).replace(microsecond=0)
    api_url = env.spawn_uvicorn(f"api-{label}", "api.app:create_app", REMINDER_TIME_UTC=instant.strftime("%H:%M:%S"))
    returns = await seed_returns(env, firm_id, client["id"], count)
    first_quarters: list[uuid.UUID] = []
    body = {"tax_year": year, "federal_annual": "4000.00", "state_annual": "0.00"}
    moved = {"due_date": (instant.date() + timedelta(days=14)).isoformat()}

    async def prepare(return_id):
        created = await env.http.post(f"{api_url}/v1/returns/{return_id}/estimated-payments", headers=headers,
                                      json=body)
        created.raise_for_status()
        quarter = created.json()["data"]["payments"][0]["id"]
        (await env.http.patch(f"{api_url}/v1/estimated-payments/{quarter}", headers=headers, json=moved)
         ).raise_for_status()
        first_quarters.append(uuid.UUID(quarter))

    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def limited(return_id):
        async with semaphore:
            await prepare(return_id)

    await asyncio.gather(*(limited(r) for r in returns))
    if datetime.now(timezone.utc) >= instant:
        env.report(BENCH, f"{label}: set-up overran the due instant", 1, "error")
    # The set-up's tail (each workflow re-planning after its move) is not the burst's: wait for the stack to go
    # idle, until a second before the instant at most.
    await env.settle(timeout=max(0.0, (instant - datetime.now(timezone.utc)).total_seconds() - 2))
    env.report(BENCH, f"{label}: seconds to spare before the instant",
               round((instant - datetime.now(timezone.utc)).total_seconds(), 1), "s")
    # The CPU is the burst's from half a second before its instant: the idle stack's own spending over the
    # minute or more of waiting before it is no reminder's.
    await asyncio.sleep(max(0.0, (instant - datetime.now(timezone.utc)).total_seconds() - 0.5))
    cpu_before = env.cpu_by_part()
    deadline = instant + timedelta(seconds=120 + count / 10)
    lateness: list[float] = []
    while datetime.now(timezone.utc) < deadline:
        lateness = await _fired(env, first_quarters, instant)
        if len(lateness) == count:
            break
        await asyncio.sleep(0.5)
    lateness.sort()
    await env.settle(timeout=30)  # each schedule's re-plan after its reminder is part of the burst's cost
    env.report(BENCH, f"{label}: reminders due in the same second", count, "reminders")
    env.report(BENCH, f"{label}: reminders sent", len(lateness), "reminders")
    if count > 1:  # one reminder's CPU is lost in the idle stack's own
        env.report_cpu(BENCH, label, cpu_before, env.cpu_by_part(), max(1, len(lateness)))
    if lateness:
        env.report(BENCH, f"{label}: lateness p50", round(statistics.median(lateness), 3), "s")
        env.report(BENCH, f"{label}: lateness p95", round(lateness[min(len(lateness) - 1,
                                                                        int(0.95 * len(lateness)))], 3), "s")
        env.report(BENCH, f"{label}: lateness max", round(lateness[-1], 3), "s")


async def bench_webhooks(env: BenchEnv, headers: dict, client: dict, bare_url: str) -> None:
    invoices = []
    for _ in range(INVOICES):
        created = await env.http.post("/v1/invoices", headers=headers, json={
            "client_id": client["id"], "line_items": [{"description": "Bookkeeping", "quantity": 1,
                                                       "unit_price": "100000.00"}]})
        created.raise_for_status()
        invoices.append(created.json()["data"]["id"])
    # Sent, as an invoice a client pays is (a draft's payment is money owed back: a refund-due mail per event,
    # not the path measured). Marked in SQL: sending needs the payments sandbox, which the bench does not run, so
    # no invoice workflow runs either and each event's signal finds none (its round trip to Temporal is paid;
    # the workflow's own task is the worker's, not the endpoint's).
    async with env.sessionmaker.begin() as session:
        await session.execute(text(
            "UPDATE invoices SET status = 'sent', sent_at = now(), due_date = current_date + 30 "
            "WHERE id = ANY(:ids)"), {"ids": [uuid.UUID(i) for i in invoices]})
    secret = env.settings.stripe_webhook_secret
    run_id = uuid.uuid4().hex[:8]

    def signed(i: int) -> tuple[bytes, dict]:
        """payment_intent.succeeded for one cent: each event records a payment on one of the invoices."""
        event = {"id": f"evt_bench_{run_id}_{i}", "object": "event", "type": "payment_intent.succeeded",
                 "created": int(time.time()), "livemode": False, "data": {"object": {
                     "id": f"pi_bench_{run_id}_{i}", "object": "payment_intent", "amount": 1, "amount_received": 1,
                     "currency": "usd", "status": "succeeded", "metadata": {"invoice_id": invoices[i % INVOICES]}}}}
        payload = json.dumps(event, indent=2)
        return payload.encode(), {"Content-Type": "application/json",
                                  "Stripe-Signature": signature_header(payload, [secret], int(time.time()))}

    def poster(url: str):
        async def post(i):
            payload, sig = signed(i)
            response = await env.http.post(url, content=payload, headers=sig)
            response.raise_for_status()
        return post

    async def measured(label: str, url: str, warmup: int = 20):
        """The phase's figures, and its CPU per event by part once what it set off (the outbox's signals, the
        invoice workflows' tasks) has drained."""
        await env.settle()
        before = env.cpu_by_part()
        stats = await env.measure(poster(url), CONCURRENCY, WEBHOOKS, warmup=warmup)
        await env.settle()
        env.report_cpu(BENCH, label, before, env.cpu_by_part(), WEBHOOKS + warmup)
        return stats

    bare_stats = await measured("bare webhook", f"{bare_url}/bare/webhooks/stripe")
    api_stats = await measured("API webhook", "/v1/webhooks/stripe")
    duplicate_stats = await measured("API webhook duplicate", "/v1/webhooks/stripe", warmup=0)
    async with env.sessionmaker() as session:
        recorded = (await session.execute(text(
            "SELECT count(*) FROM invoice_payments WHERE stripe_event_id LIKE :prefix"),
            {"prefix": f"evt_bench_{run_id}_%"})).scalar_one()
    env.report_stats(BENCH, "bare webhook (signature only)", bare_stats)
    env.report_stats(BENCH, "API webhook (records a payment)", api_stats)
    env.report_stats(BENCH, "API webhook, duplicate delivery", duplicate_stats)
    env.report(BENCH, f"payments recorded for {WEBHOOKS + 20:,} distinct events", recorded, "payments")
    env.report(BENCH, "ratio throughput bare/API webhook", round(bare_stats.rps / api_stats.rps, 2), "x")


async def run(env: BenchEnv) -> None:
    firm = await env.tp.new_firm("Billing benchmark firm")
    admin = await env.tp.new_user(firm, "admin")
    headers = await env.tp.headers_for(admin)
    client = await env.tp.new_client(headers, phone="+1 555 010 0000")
    worker = next(p for p in env.processes if p.name == "worker")
    year = datetime.now(timezone.utc).year + 1
    bare_url = env.spawn_uvicorn("bare-billing", "bench.bare_billing:create_app")

    if "schedules" in PHASES:
        rss_before = process_rss_mb(worker.proc.pid)
        began = time.monotonic()
        await bench_schedules(env, firm, client, headers, bare_url, year)
        created = time.monotonic()
        settled = await settle(env, firm, SCHEDULES + WARMUP)
        env.report(BENCH, "workflows asleep on their first timer", settled, "workflows")
        env.report(BENCH, "worker catch-up after the last create", round(time.monotonic() - created, 1), "s")
        env.report(BENCH, "schedule workflows settled per second (end to end)",
                   round(settled / (time.monotonic() - began), 1), "workflows/s")
        env.report(BENCH, "worker RSS before", rss_before, "MB")
        env.report(BENCH, f"worker RSS with {settled:,} schedule workflows asleep",
                   process_rss_mb(worker.proc.pid), "MB")

    if "reminders" in PHASES:
        # These schedules move a quarter to 14 days from now, which must lie in the schedule's due-date window
        # (its tax year and the next): this year's schedules.
        this_year = year - 1
        # The first worker has the metrics port: the others serve none.
        extra = [env.spawn(f"billing-worker-{n + 2}", [sys.executable, "worker.py", "--queue", "billing"],
                           **WORKER_ENV, WORKER_METRICS_PORT="0") for n in range(BILLING_WORKERS - 1)]
        env.report(BENCH, "billing worker processes during the bursts", BILLING_WORKERS, "processes")
        await reminders_due_at_once(env, firm, client, headers, this_year, 1, lead_s(1), "baseline 1 reminder")
        for burst in BURSTS:
            await reminders_due_at_once(env, firm, client, headers, this_year, burst, lead_s(burst),
                                        f"{burst} reminders")
        env.report(BENCH, "worker RSS after the reminder bursts", process_rss_mb(worker.proc.pid), "MB")
        env.stop_processes(extra)

    if "webhooks" in PHASES:
        await bench_webhooks(env, headers, client, bare_url)
