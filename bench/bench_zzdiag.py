"""diag: cold vs warm transition, CPU by part, GC stats."""
from __future__ import annotations
import asyncio, json, os
from pathlib import Path
from bench.harness import BenchEnv
from bench.lean_http import LeanHttp
from bench.bench_tax_return import _create_returns, CONCURRENCY

N = int(os.environ.get("DIAG_N", 400))

async def _phase(env, api, headers, ids_, label):
    worker = next(p for p in env.processes if p.name == "worker")
    async def call(i):
        await api.post(f"/v1/returns/{ids_[i]}/workflow/transition", headers, {"action": "mark_ready_for_prep"})
    gcf = Path(f"/tmp/gc_{worker.proc.pid}.json")
    await asyncio.sleep(1.2)
    gc0 = json.loads(gcf.read_text())["stats"] if gcf.exists() else None
    before = env.cpu_by_part()
    stats = await env.measure(call, CONCURRENCY, len(ids_), warmup=0)
    await env.settle()
    await asyncio.sleep(1.2)
    env.report_stats("diag", label, stats)
    env.report_cpu("diag", label, before, env.cpu_by_part(), len(ids_))
    if gc0:
        gc1 = json.loads(gcf.read_text())["stats"]
        for g in "012":
            n = gc1[g][0] - gc0[g][0]; t = gc1[g][1] - gc0[g][1]
            print(f"    {label} gen{g}: {n} collections, {t*1000:.0f} ms, max {gc1[g][2]*1000:.0f} ms", flush=True)

async def run(env: BenchEnv) -> None:
    firm = await env.tp.new_firm("Diag firm")
    preparer = await env.tp.new_user(firm, "preparer")
    headers = await env.tp.headers_for(preparer)
    returns = await _create_returns(env, headers, 2 * N + 20)
    warm, cold, extra = returns[:N], returns[N:2 * N], returns[2 * N:]
    api = LeanHttp(env.api_url)
    await env.settle()
    for r in extra[:10]:
        await api.post(f"/v1/returns/{r}/workflow/transition", headers, {"action": "mark_ready_for_prep"})
    await env.settle()
    await _phase(env, api, headers, warm, "warm")
    env.restart_worker()
    await env.settle()
    for r in extra[10:]:
        await api.post(f"/v1/returns/{r}/workflow/transition", headers, {"action": "mark_ready_for_prep"})
    await env.settle()
    await _phase(env, api, headers, cold, "cold")
    api.close()
