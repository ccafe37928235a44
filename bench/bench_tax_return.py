"""POST /v1/returns/{id}/workflow/transition (HTTP → Update → local activity → Postgres → response) against two
baselines on the same server, 16 concurrent clients over 1,000 returns, the three in alternating rounds of 250:

- a bare Temporal Update round trip (the issue's baseline);
- the transition floor: on a workflow carrying the search attributes the issue names, an Update that runs a
  no-op local activity and upserts the status, what the spec asks of Temporal for any transition before any
  of our code runs (bench/tax_return_bare_worker.py).

Besides latency, throughput and CPU per call by process, it prints the history events each call wrote, by type
(the server's work, whatever the machine's speed), and what the idle stack spends per second by process.

Every worker keeps every workflow of the run in its cache (the harness sizes WORKFLOW_CACHE_SIZE for it, as
docs/tax_return.md advises for production). The price of a cold cache is measured after: the worker is
restarted and COLD more returns make their first transition, each replaying its history first.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections import Counter

from temporalio.api.enums.v1 import EventType

from bench.harness import WORKER_ENV, BenchEnv, Stats, process_rss_mb, sized
from bench.lean_http import LeanHttp
from bench.tax_return_bare_worker import (
    BARE_UPDATE, FLOOR_UPDATE, BareUpdateWorkflow, TransitionFloorWorkflow, floor_search_attributes,
)
from orchestration import ids

BENCH = "tax_return_transition"
ROUNDS = 4  # the phases alternate, a round of each in turn
RETURNS = sized(1_000, smallest=4 * ROUNDS)
WARMUP = sized(20, smallest=2)
COLD = sized(200, smallest=4)
CONCURRENCY = 16
RETURN_TYPES = ["1040", "1041", "1065", "1120", "1120S", "990", "706", "709"]
YEARS = list(range(2018, 2025))
# Workflows of each phase whose history is read before and after their one measured call: the events a call
# writes are the server's work for it (each event is a row, most cause a task), whatever the machine's speed.
HISTORY_SAMPLE = sized(20, smallest=2)
IDLE_SAMPLE_S = 5


async def _gather_in_chunks(coros, size: int = CONCURRENCY) -> list:
    results = []
    for start in range(0, len(coros), size):
        results += await asyncio.gather(*coros[start:start + size])
    return results


async def _create_returns(env: BenchEnv, headers: dict, count: int) -> list[str]:
    """Real creates through the API (each starts its workflow); clients enough for distinct (year, type)."""
    per_client = len(RETURN_TYPES) * len(YEARS)
    clients = await _gather_in_chunks([env.tp.new_client(headers) for _ in range(-(-count // per_client))])
    keys = [(c["id"], y, t) for c in clients for y in YEARS for t in RETURN_TYPES][:count]

    async def create(key):
        client_id, year, return_type = key
        response = await env.http.post("/v1/returns", headers=headers, json={
            "client_id": client_id, "tax_year": year, "return_type": return_type})
        response.raise_for_status()
        return response.json()["data"]["id"]

    return await _gather_in_chunks([create(k) for k in keys])


async def _history_lengths(handles: list) -> list[int]:
    return [len((await handle.fetch_history()).events) for handle in handles]


async def _events_written(handles: list, lengths_before: list[int]) -> Counter[str]:
    """The events each handle's workflow wrote since `lengths_before`, by type, summed."""
    written: Counter[str] = Counter()
    for handle, before in zip(handles, lengths_before):
        events = list((await handle.fetch_history()).events)[before:]
        written.update(EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in events)
    return written


async def run(env: BenchEnv) -> None:
    firm = await env.tp.new_firm("Benchmark firm")
    preparer = await env.tp.new_user(firm, "preparer")
    headers = await env.tp.headers_for(preparer)
    worker = next(p for p in env.processes if p.name == "worker")
    rss_before = process_rss_mb(worker.proc.pid)
    returns = await _create_returns(env, headers, RETURNS + WARMUP + COLD)
    cold_returns, returns = returns[RETURNS + WARMUP:], returns[:RETURNS + WARMUP]

    queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
    env.spawn("bare-worker", [sys.executable, "-m", "bench.tax_return_bare_worker", queue], **WORKER_ENV)

    async def start_all(workflow_run, prefix: str, **options) -> list:
        return await _gather_in_chunks([
            env.temporal.start_workflow(workflow_run, id=f"{prefix}:{uuid.uuid4()}", task_queue=queue, **options)
            for _ in range(RETURNS + WARMUP)])

    bare_handles = await start_all(BareUpdateWorkflow.run, "bench-bare")
    floor_handles = await start_all(TransitionFloorWorkflow.run, "bench-floor",
                                    search_attributes=floor_search_attributes())
    await bare_handles[0].execute_update(BARE_UPDATE)  # the bare worker is up

    def nth(items: list, i: int):
        """Calls 0..RETURNS-1 are measured; the warmup's calls -1, -2, … go to the items after those."""
        return items[i if i >= 0 else RETURNS - 1 - i]

    async def bare(i):
        await nth(bare_handles, i).execute_update(BARE_UPDATE)

    async def floor(i):
        await nth(floor_handles, i).execute_update(FLOOR_UPDATE)

    # Measured calls go through the lean client (bench/lean_http.py: httpx cost the load generator 3 ms per call).
    api = LeanHttp(env.api_url)

    async def transition(i):
        await api.post(f"/v1/returns/{nth(returns, i)}/workflow/transition", headers,
                       {"action": "mark_ready_for_prep"})

    async def read(i):
        await api.get(f"/v1/returns/{returns[i % RETURNS]}", headers)

    phases = {"bare": bare, "floor": floor, "transition": transition}
    settled = await env.settle()  # the server drains the creates' visibility and timer tasks first
    for i in range(WARMUP):
        for call in phases.values():
            await call(-1 - i)
    # The phases are measured in alternating rounds, so all meet the same machine: on these shared VMs its speed
    # drifts by up to a third within minutes, which moved the ratio by as much (2.6× to 3.2×) when one phase ran
    # after the other. CPU is read with the stack idle on both sides of a round, so work the server defers
    # (visibility writes) is charged to the round that caused it.
    await env.settle()
    # What the idle stack spends by itself (pollers, heartbeats, the server's housekeeping) is charged to each phase
    # by how long it and its settling took: a slower phase pays more of it per call. Printed so it can be weighed.
    idle_from = env.cpu_by_part()
    await asyncio.sleep(IDLE_SAMPLE_S)
    idle = {part: (seconds - idle_from.get(part, 0.0)) / IDLE_SAMPLE_S for part, seconds in env.cpu_by_part().items()}
    sampled = {"bare": bare_handles[:HISTORY_SAMPLE], "floor": floor_handles[:HISTORY_SAMPLE],
               "transition": [env.temporal.get_workflow_handle(ids.tax_return(r)) for r in returns[:HISTORY_SAMPLE]]}
    lengths = {name: await _history_lengths(handles) for name, handles in sampled.items()}
    rounds: dict[str, list[Stats]] = {name: [] for name in phases}
    cpu: dict[str, dict[str, float]] = {name: {} for name in phases}
    per_round = RETURNS // ROUNDS
    for round_ in range(ROUNDS):
        offset = round_ * per_round
        for name, call in phases.items():
            before = env.cpu_by_part()
            rounds[name].append(await env.measure(lambda i, call=call: call(offset + i), CONCURRENCY, per_round,
                                                  warmup=0))
            await env.settle()
            for part, seconds in env.cpu_by_part().items():
                cpu[name][part] = cpu[name].get(part, 0.0) + seconds - before.get(part, 0.0)
    stats = {name: Stats.combine(parts) for name, parts in rounds.items()}
    written = {name: await _events_written(handles, lengths[name]) for name, handles in sampled.items()}
    read_stats = await env.measure(read, CONCURRENCY, RETURNS)
    rss_cached = process_rss_mb(worker.proc.pid)

    env.restart_worker()
    await env.settle()

    async def cold_transition(i):
        await api.post(f"/v1/returns/{cold_returns[i]}/workflow/transition", headers, {"action": "mark_ready_for_prep"})

    cold_from = env.cpu_by_part()
    cold_stats = await env.measure(cold_transition, CONCURRENCY, COLD, warmup=0)
    await env.settle()
    cold_cpu = env.cpu_by_part()
    api.close()

    env.report(BENCH, "returns (one workflow each)", RETURNS, "returns")
    env.report(BENCH, "worker workflow cache size (WORKFLOW_CACHE_SIZE)", env.settings.workflow_cache_size,
               "workflows")
    env.report(BENCH, "worker RSS before the returns", rss_before, "MB")
    env.report(BENCH, f"worker RSS with {RETURNS + WARMUP:,} returns cached", rss_cached, "MB")
    env.report_stats(BENCH, "bare Temporal Update", stats["bare"])
    env.report_stats(BENCH, "transition floor (Update + no-op local activity + upsert)", stats["floor"])
    env.report_stats(BENCH, "API transition", stats["transition"])
    env.report_stats(BENCH, "API GET return (HTTP+auth+SQL)", read_stats)
    for over, under in (("transition", "bare"), ("transition", "floor"), ("floor", "bare")):
        env.report(BENCH, f"ratio p50 {over}/{under}", round(stats[over].p50_ms / stats[under].p50_ms, 2), "x")
        env.report(BENCH, f"ratio p95 {over}/{under}", round(stats[over].p95_ms / stats[under].p95_ms, 2), "x")
        env.report(BENCH, f"ratio throughput {under}/{over}", round(stats[under].rps / stats[over].rps, 2), "x")
    env.report_stats(BENCH, "API transition, cold cache (worker restarted)", cold_stats)
    env.report(BENCH, "ratio p50 cold/warm transition", round(cold_stats.p50_ms / stats["transition"].p50_ms, 2),
               "x")
    # The server's work per call, read from the histories: events written, by type.
    for name, label in (("bare", "bare Update"), ("floor", "transition floor"), ("transition", "API transition")):
        per_call = {kind: count / HISTORY_SAMPLE for kind, count in sorted(written[name].items())}
        env.report(BENCH, f"{label} history events per call", round(sum(per_call.values()), 2), "events")
        print("    " + ", ".join(f"{kind} {count:g}" for kind, count in per_call.items()), flush=True)
    # Where the CPU goes, per call.
    env.report_cpu(BENCH, "bare Update", {}, cpu["bare"], RETURNS)
    env.report_cpu(BENCH, "transition floor", {}, cpu["floor"], RETURNS)
    env.report_cpu(BENCH, "API transition", {}, cpu["transition"], RETURNS)
    # What a cold cache adds is mostly the worker's: a new sandbox per workflow and the replay of its history.
    env.report_cpu(BENCH, "API transition, cold cache", cold_from, cold_cpu, COLD)
    for part, share in sorted(idle.items()):
        if share >= 0.0005:
            env.report(BENCH, f"idle stack CPU per second: {part}", round(share * 1000, 1), "ms/s")
    env.report(BENCH, "wait for the server to drain the creates' backlog", settled, "s")
