"""A tax season on one machine: 10,000 open returns, 2,000 estimated-payment schedules and 5,000 sent invoices,
every one with its workflow asleep, and what they cost: memory, disk, and the transition benchmark at that size.

Everything is created the real way, through the API, at 16 concurrent callers: POST /v1/returns (one
TaxReturnWorkflow each, started through orchestration), POST /v1/returns/{id}/estimated-payments on 2,000 of
those returns (a schedule workflow asleep on its first reminder timer) and POST /v1/invoices + …/send (an
InvoiceWorkflow, through the payments sandbox, asleep until the due date). A faster path (rows inserted in bulk)
would skip exactly what a season costs the workflow side: the starts, their first workflow tasks, the timers.

Figures, each against a baseline from the same run:
- worker, API and Temporal server resident memory, Postgres memory (PSS of its processes), before and after
  the season, and the worker once restarted with the season open (its cache empty);
- Postgres database size (pg_database_size) and its biggest tables with their rows; the Temporal dev
  server's SQLite file (and its write-ahead log);
- events and bytes per workflow history, by kind, and the open workflows Temporal counts;
- time to create the season, per part, with the CPU each item cost by process and the load average;
- bench/bench_tax_return.py's transition benchmark run first on the empty stack, then again at season size.

TAX_SEASON_SCALE (default 1) runs a fraction of the season, for a busy machine; the figures say which scale ran.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from bench import bench_billing, bench_tax_return
from bench.harness import BenchEnv, process_rss_mb, sized, smoke_run
from devstack.ports import free_port

BENCH = "tax_season"
# A smoke run opens a tenth of the season at the smoke fraction (20 returns): it runs twice the transition
# benchmark besides, and `make test` runs every benchmark's smoke within one timeout.
SCALE = float(os.environ.get("TAX_SEASON_SCALE", "0.1" if smoke_run() else "1"))
RETURNS = sized(round(10_000 * SCALE), smallest=8)
SCHEDULES = sized(round(2_000 * SCALE), smallest=2)
INVOICES = sized(round(5_000 * SCALE), smallest=2)
CONCURRENCY = 16
HISTORY_SAMPLE = 5  # histories read per kind of workflow
BIGGEST_TABLES = 8
# The transition benchmark's figures compared empty vs at season size (names as bench_tax_return reports them).
TRANSITION_FIGURES = [
    ("API transition p50", "ms"),
    ("API transition throughput", "req/s"),
    ("transition floor (Update + no-op local activity + upsert) p50", "ms"),
    ("ratio p50 transition/floor", "x"),
    ("ratio throughput floor/transition", "x"),
    ("API transition CPU/op: total", "ms"),
    ("API transition CPU/op: Temporal server", "ms"),
    ("API transition, cold cache (worker restarted) p50", "ms"),
]


# ---- where the memory and the disk are -------------------------------------------------------------------

def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0


def _pss_mb(pid: int) -> float:
    """Proportional set size: shared pages (Postgres's shared buffers) split between the processes sharing them,
    so a sum over Postgres's processes counts them once."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0.0


def _temporal_pid(db_file: Path) -> int | None:
    return next((pid for pid in _pids() if str(db_file) in _cmdline(pid) and "start-dev" in _cmdline(pid)), None)


def _postgres_pids(data_dir: str) -> list[int]:
    """The postmaster (its command line names the stack's data directory) and every backend it forked."""
    pids = _pids()
    roots = {pid for pid in pids if "postgres" in _cmdline(pid) and data_dir in _cmdline(pid)}
    return sorted(roots | {pid for pid in pids if _parent(pid) in roots})


@dataclass
class Footprint:
    worker_rss_mb: float
    api_rss_mb: float
    temporal_rss_mb: float
    postgres_pss_mb: float
    postgres_bytes: int
    temporal_db_bytes: int
    temporal_wal_bytes: int


def _process(env: BenchEnv, name: str):
    return next(p for p in env.processes if p.name == name)


async def footprint(env: BenchEnv) -> Footprint:
    data_dir = env.stack_env["DATA_DIR"]
    db_file = Path(data_dir) / "temporal" / "temporal.sqlite"
    temporal = _temporal_pid(db_file)
    async with env.sessionmaker() as session:
        postgres_bytes = await session.scalar(text("SELECT pg_database_size(current_database())"))
    wal = db_file.with_name(db_file.name + "-wal")
    return Footprint(
        worker_rss_mb=process_rss_mb(_process(env, "worker").proc.pid),
        api_rss_mb=process_rss_mb(_process(env, "api").proc.pid),
        temporal_rss_mb=process_rss_mb(temporal) if temporal else float("nan"),
        postgres_pss_mb=round(sum(_pss_mb(pid) for pid in _postgres_pids(data_dir)), 1),
        postgres_bytes=postgres_bytes,
        temporal_db_bytes=db_file.stat().st_size if db_file.exists() else 0,
        temporal_wal_bytes=wal.stat().st_size if wal.exists() else 0)


def report_footprint(env: BenchEnv, label: str, fp: Footprint) -> None:
    env.report(BENCH, f"{label}: worker RSS", fp.worker_rss_mb, "MB")
    env.report(BENCH, f"{label}: API RSS", fp.api_rss_mb, "MB")
    env.report(BENCH, f"{label}: Temporal server RSS", fp.temporal_rss_mb, "MB")
    env.report(BENCH, f"{label}: Postgres PSS (all its processes)", fp.postgres_pss_mb, "MB")
    env.report(BENCH, f"{label}: Postgres database size", _mb(fp.postgres_bytes), "MB")
    env.report(BENCH, f"{label}: Temporal SQLite file", _mb(fp.temporal_db_bytes), "MB")
    env.report(BENCH, f"{label}: Temporal SQLite write-ahead log", _mb(fp.temporal_wal_bytes), "MB")


def _mb(size: int) -> float:
    return round(size / 2**20, 1)


async def report_biggest_tables(env: BenchEnv) -> None:
    async with env.sessionmaker() as session:
        tables = (await session.execute(text(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public' "
            "ORDER BY 2 DESC LIMIT :n"), {"n": BIGGEST_TABLES})).all()
        for name, size in tables:
            rows = await session.scalar(text(f'SELECT count(*) FROM "{name}"'))  # a name from pg_class
            env.report(BENCH, f"table {name} (with indexes, TOAST)", _mb(size), "MB")
            env.report(BENCH, f"table {name} rows", rows, "rows")


async def report_histories(env: BenchEnv, firm_id: uuid.UUID) -> None:
    """Open workflows by kind, and events and bytes per history for a few of each kind."""
    running = f"FirmId = '{firm_id}' AND ExecutionStatus = 'Running'"
    total = (await env.temporal.count_workflows("ExecutionStatus = 'Running'")).count
    env.report(BENCH, "open workflows in Temporal (every firm)", total, "workflows")
    for kind in ("tax_return", "estimated_payment_schedule", "invoice"):
        query = f"{running} AND EntityType = '{kind}'"
        env.report(BENCH, f"open {kind} workflows of the season", (await env.temporal.count_workflows(query)).count,
                   "workflows")
        events, size = [], []
        async for execution in env.temporal.list_workflows(query, limit=HISTORY_SAMPLE):
            described = await env.temporal.get_workflow_handle(execution.id).describe()
            events.append(described.history_length)
            size.append(described.raw_description.workflow_execution_info.history_size_bytes)
        if events:
            env.report(BENCH, f"{kind} history events (mean of {len(events)})", round(sum(events) / len(events), 1),
                       "events")
            env.report(BENCH, f"{kind} history size (mean of {len(size)})", round(sum(size) / len(size) / 1024, 1),
                       "KB")


# ---- creating the season -------------------------------------------------------------------------------

async def in_parallel(items: list, call) -> list:
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one(item):
        async with semaphore:
            return await call(item)

    return await asyncio.gather(*(one(item) for item in items))


@dataclass
class Phase:
    elapsed_s: float
    cpu_s: float  # the whole stack's, this process included


async def phase(env: BenchEnv, label: str, unit: str, create) -> Phase:
    """Runs `create()` (which returns how many it made, once their workflows are asleep), then reports its rate,
    the load average it met, and the CPU per item by process (the stack settled idle first, so work the server
    defers is charged here)."""
    load = os.getloadavg()[0]
    before = env.cpu_by_part()
    began = time.monotonic()
    made = await create()
    elapsed = time.monotonic() - began
    await env.settle()
    after = env.cpu_by_part()
    env.report(BENCH, f"{label}: created", made, unit)
    env.report(BENCH, f"{label}: time (until their workflows are asleep)", round(elapsed, 1), "s")
    env.report(BENCH, f"{label}: rate", round(made / elapsed, 1), f"{unit}/s")
    env.report(BENCH, f"{label}: load average (1 min) at the start", round(load, 1), "")
    env.report_cpu(BENCH, label, before, after, max(made, 1))
    return Phase(elapsed, sum(after.values()) - sum(before.get(part, 0.0) for part in after))


def start_payments_sandbox(env: BenchEnv) -> str:
    """The Stripe sandbox the invoices' payment links are made on; the worker is restarted to use it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env.spawn("payments-sandbox", [sys.executable, "-m", "sandboxes.payments", "--port", str(port),
                                   "--webhook-url", f"{env.api_url}/v1/webhooks/stripe",
                                   "--webhook-secret", env.settings.stripe_webhook_secret],
              ready_url=f"{url}/_sandbox/events")
    return url


async def create_returns(env: BenchEnv, headers: dict, firm_id: uuid.UUID) -> list[str]:
    returns = await bench_tax_return._create_returns(env, headers, RETURNS)
    await env.wait_for_workflows(f"FirmId = '{firm_id}' AND EntityType = 'tax_return'", len(returns))
    return returns


async def create_schedules(env: BenchEnv, headers: dict, firm_id: uuid.UUID, returns: list[str]) -> int:
    body = {"tax_year": datetime.now(UTC).year + 1, "federal_annual": "20000.00", "state_annual": "6000.00",
            "payment_method": "equal_quarterly"}

    async def create(return_id):
        response = await env.http.post(f"/v1/returns/{return_id}/estimated-payments", headers=headers, json=body)
        response.raise_for_status()

    await in_parallel(returns[:SCHEDULES], create)
    return await bench_billing.settle(env, firm_id, SCHEDULES)


async def create_invoices(env: BenchEnv, headers: dict, firm_id: uuid.UUID, client_ids: list[str]) -> int:
    slow = 0

    async def create_and_send(i):
        nonlocal slow
        created = await env.http.post("/v1/invoices", headers=headers, json={
            "client_id": client_ids[i % len(client_ids)],
            "line_items": [{"description": "Tax preparation", "quantity": 1, "unit_price": "850.00"}]})
        created.raise_for_status()
        sent = await env.http.post(f"/v1/invoices/{created.json()['data']['id']}/send", headers=headers)
        sent.raise_for_status()
        slow += sent.status_code == 202

    await in_parallel(list(range(INVOICES)), create_and_send)
    if slow:
        env.report(BENCH, "invoice sends answered 202 (payment provider slow)", slow, "invoices")
    return await env.wait_for_workflows(f"FirmId = '{firm_id}' AND EntityType = 'invoice' "
                               f"AND NextReminderAt > '2000-01-01T00:00:00Z'", INVOICES)


async def client_ids_of(env: BenchEnv, firm_id: uuid.UUID) -> list[str]:
    async with env.sessionmaker() as session:
        return [str(c) for c in (await session.execute(
            text("SELECT id FROM clients WHERE firm_id = :firm ORDER BY created_at"), {"firm": firm_id})).scalars()]


# ---- the transition benchmark at both sizes ------------------------------------------------------------

async def transition_figures(env: BenchEnv, label: str) -> dict[str, float]:
    print(f"  -- {bench_tax_return.BENCH} {label}:", flush=True)
    first = len(env.rows)
    await bench_tax_return.run(env)
    return {row["metric"]: row["value"] for row in env.rows[first:]}


def report_transition_comparison(env: BenchEnv, empty: dict[str, float], season: dict[str, float]) -> None:
    for metric, unit in TRANSITION_FIGURES:
        if not empty and metric in season:
            env.report(BENCH, f"{metric}: at season size", season[metric], unit)
            continue
        if metric not in empty or metric not in season:
            print(f"    ({metric!r} is not among bench_tax_return's figures any more)", flush=True)
            continue
        env.report(BENCH, f"{metric}: empty stack", empty[metric], unit)
        env.report(BENCH, f"{metric}: at season size", season[metric], unit)
        if empty[metric]:
            env.report(BENCH, f"{metric}: season/empty", round(season[metric] / empty[metric], 2), "x")


async def run(env: BenchEnv) -> None:
    env.report(BENCH, "scale (TAX_SEASON_SCALE; a smoke run is smaller still)", SCALE, "")
    empty = await footprint(env)
    # TAX_SEASON_EMPTY_TRANSITIONS=0 skips the empty-stack run on a machine too busy for both (compare with a
    # `python -m bench tax_return` run at the same load instead).
    transition_empty = (await transition_figures(env, "on the empty stack (the baseline)")
                        if os.environ.get("TAX_SEASON_EMPTY_TRANSITIONS", "1") != "0" else {})

    firm = await env.tp.new_firm("Tax season firm")
    admin = await env.tp.new_user(firm, "admin")
    headers = await env.tp.headers_for(admin)
    payments_url = start_payments_sandbox(env)
    env.restart_worker(STRIPE_API_BASE=payments_url)
    await env.settle()
    before = await footprint(env)
    load_before = os.getloadavg()

    returns: list[str] = []

    async def make_returns() -> int:
        returns.extend(await create_returns(env, headers, firm))
        return len(returns)

    phases = [await phase(env, "open returns (POST /v1/returns)", "returns", make_returns),
              await phase(env, "estimated-payment schedules", "schedules",
                          lambda: create_schedules(env, headers, firm, returns))]
    clients = await client_ids_of(env, firm)
    phases.append(await phase(env, "sent invoices (create + send)", "invoices",
                              lambda: create_invoices(env, headers, firm, clients)))
    elapsed = sum(p.elapsed_s for p in phases)
    cpu_s = sum(p.cpu_s for p in phases)
    after = await footprint(env)
    env.restart_worker(STRIPE_API_BASE=payments_url)
    await env.settle()
    restarted_rss = process_rss_mb(_process(env, "worker").proc.pid)

    env.report(BENCH, "season: open returns", RETURNS, "returns")
    env.report(BENCH, "season: estimated-payment schedules", SCHEDULES, "schedules")
    env.report(BENCH, "season: sent invoices", INVOICES, "invoices")
    env.report(BENCH, "season: clients", len(clients), "clients")
    env.report(BENCH, "worker workflow cache per task queue (WORKFLOW_CACHE_SIZE)", env.settings.workflow_cache_size,
               "workflows")
    env.report(BENCH, "time to create the season", round(elapsed, 1), "s")
    env.report(BENCH, "load average (1, 5, 15 min) before the season",
               " / ".join(f"{v:.1f}" for v in load_before), "")
    env.report(BENCH, "load average (1, 5, 15 min) after the season",
               " / ".join(f"{v:.1f}" for v in os.getloadavg()), "")
    env.report(BENCH, "CPU the season cost (every process of the stack)", round(cpu_s, 1), "s")
    # On a machine of its own the season is bound by that CPU spread over the cores; on a shared one, by the
    # share it gets: both extrapolated to the full size, marked as estimates.
    cores = os.cpu_count() or 1
    to_full = 10_000 / RETURNS  # the three counts are scaled alike
    env.report(BENCH, f"estimate: full season on {cores} idle cores (CPU / cores)", round(cpu_s * to_full / cores),
               "s")
    if to_full > 1:
        env.report(BENCH, "estimate: full season at this run's rate", round(elapsed * to_full), "s")
    report_footprint(env, "empty stack", empty)
    report_footprint(env, "before the season", before)
    report_footprint(env, "season open", after)
    env.report(BENCH, "season open, worker restarted (cache empty): worker RSS", restarted_rss, "MB")
    workflows = RETURNS + SCHEDULES + INVOICES
    env.report(BENCH, "Temporal SQLite + WAL growth per season workflow",
               round((after.temporal_db_bytes + after.temporal_wal_bytes - before.temporal_db_bytes
                      - before.temporal_wal_bytes) / workflows / 1024, 1), "KB")
    env.report(BENCH, "Postgres growth per season item (return, schedule or invoice)",
               round((after.postgres_bytes - before.postgres_bytes) / workflows / 1024, 1), "KB")
    # Each queue's worker caches up to WORKFLOW_CACHE_SIZE workflows: the returns on tax-return, the schedules
    # and invoices on billing.
    cache = env.settings.workflow_cache_size
    cached = min(RETURNS, cache) + min(SCHEDULES + INVOICES, cache)
    env.report(BENCH, "season workflows in the worker's caches", cached, "workflows")
    env.report(BENCH, "worker RSS growth per cached season workflow",
               round((after.worker_rss_mb - before.worker_rss_mb) * 1024 / cached, 1), "KB")
    await report_histories(env, firm)
    await report_biggest_tables(env)

    transition_season = await transition_figures(env, "at season size")
    report_transition_comparison(env, transition_empty, transition_season)
