"""Outbound webhooks: 10,000 events fanned out to 5 local endpoints, one slow (2 s) and one always failing, against
the same run with 5 healthy endpoints: the healthy endpoints' delivery latency must not move (isolation). A third
phase puts a receiver that hangs past the 15 s timeout in the slow one's place."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from datetime import datetime

from sqlalchemy import func, select

from bench.harness import BenchEnv, Stats, smoke_run
from devstack.ports import free_port
from domain.event.record import add_event
from domain.outbound_webhook.models import WebhookAttempt, WebhookDelivery
from sandboxes.webhook_receiver import Receiver, RunningReceiver, serve

BENCH = "webhooks"
# BENCH_WEBHOOK_EVENTS / BENCH_WEBHOOK_RATE: a partial run where the machine cannot take the full one.
EVENTS = int(os.environ.get("BENCH_WEBHOOK_EVENTS", 0)) or (10 if smoke_run() else 10_000)
# Events are written at this pace (a firm's steady stream, not one burst): the latency measured is then the
# path's, not the time a burst takes to drain. Both phases use the same pace.
EVENTS_PER_S = float(os.environ.get("BENCH_WEBHOOK_RATE", 20))
DRAIN_TIMEOUT_S = 600.0


async def _register(env: BenchEnv, headers: dict, receiver: RunningReceiver, path: str) -> str:
    response = await env.http.post("/v1/admin/webhooks", headers=headers,
                                   json={"url": receiver.url + path, "events": ["invoice.paid"]})
    assert response.status_code == 201, response.text
    receiver.receiver.trust(path, response.json()["data"]["secret"])  # it verifies every delivery, as a firm's would
    return response.json()["data"]["id"]


async def _write_events(env: BenchEnv, firm_id: uuid.UUID) -> float:
    """EVENTS thin events at EVENTS_PER_S, in small transactions (as changes commit them). Returns the seconds."""
    began = time.monotonic()
    batch = max(1, int(EVENTS_PER_S / 10))
    written = 0
    while written < EVENTS:
        async with env.sessionmaker.begin() as session:
            for _ in range(min(batch, EVENTS - written)):
                add_event(session, firm_id, "invoice.paid", "invoice", uuid.uuid4(), None, {"status": "paid"})
                written += 1
        await asyncio.sleep(max(0.0, began + written / EVENTS_PER_S - time.monotonic()))
    return time.monotonic() - began


def _latencies_ms(receiver: Receiver, paths: list[str]) -> list[float]:
    """From the event's time (written) to its arrival at the receiver, first arrival per event and endpoint."""
    seen: dict[tuple[str, str], float] = {}
    for r in receiver.received:
        if r.path in paths:
            key = (r.path, r.headers["webhook-id"])
            if key not in seen:
                occurred = datetime.fromisoformat(r.event["timestamp"].replace("Z", "+00:00")).timestamp()
                seen[key] = (r.at - occurred) * 1000
    return list(seen.values())


async def _until_received(receiver: Receiver, paths: list[str], count: int) -> float:
    began = time.monotonic()
    while time.monotonic() - began < DRAIN_TIMEOUT_S:
        got = {(r.path, r.headers["webhook-id"]) for r in receiver.received if r.path in paths}
        if len(got) >= count:
            return time.monotonic() - began
        await asyncio.sleep(0.25)
    raise AssertionError(f"healthy endpoints received {len(got)} of {count} within {DRAIN_TIMEOUT_S} s")


async def _phase(env: BenchEnv, running: RunningReceiver, label: str, kinds: list[str]) -> tuple[Stats, dict]:
    receiver = running.receiver
    firm = await env.tp.new_firm(f"Benchmark firm (webhooks, {label})")
    _, headers = await env.tp.staff_session(firm, "admin")
    run = uuid.uuid4().hex[:6]
    paths = [(kind, f"/{kind}/{label}-{run}-{i}") for i, kind in enumerate(kinds)]
    ids = {path: await _register(env, headers, running, path) for _, path in paths}
    healthy = [path for kind, path in paths if kind == "ok"]
    began = time.monotonic()
    await _write_events(env, firm)
    await _until_received(receiver, healthy, EVENTS * len(healthy))
    elapsed = time.monotonic() - began
    stats = Stats.of(_latencies_ms(receiver, healthy), elapsed, Counter())
    unverified = sum(1 for r in receiver.received if r.path in ids and not r.verified)
    assert unverified == 0, f"{unverified} deliveries failed the standardwebhooks verification"
    unhealthy = {kind: len({r.headers["webhook-id"] for r in receiver.at(path)}) for kind, path in paths
                 if kind != "ok"}
    for kind, path in paths:  # stop the slow backlog and the failing retries before the next phase
        if kind != "ok":
            await env.http.patch(f"/v1/admin/webhooks/{ids[path]}", headers=headers, json={"enabled": False})
    return stats, unhealthy


async def run(env: BenchEnv) -> None:
    running = await serve(Receiver(), free_port())
    try:
        print(f"   {EVENTS} events at {EVENTS_PER_S:g}/s to 5 endpoints per phase "
              "(2 cores shared with other work: figures are noisy)", flush=True)
        baseline, _ = await _phase(env, running, "baseline", ["ok", "ok", "ok", "ok", "ok"])
        await env.settle()
        mixed, unhealthy = await _phase(env, running, "mixed", ["ok", "ok", "ok", "slow/2", "fail"])
        await env.settle()
        # A receiver that hangs past our 15 s timeout: at 0.6 events/s or more it fills its cap of 8 attempts.
        hanging, _ = await _phase(env, running, "hanging", ["ok", "ok", "ok", "slow/20", "fail"])
        for label, stats in (("all healthy (baseline)", baseline), ("with a slow and a failing", mixed),
                             ("with a hanging and a failing", hanging)):
            env.report(BENCH, f"healthy latency p50, {label}", stats.p50_ms, "ms")
            env.report(BENCH, f"healthy latency p95, {label}", stats.p95_ms, "ms")
            env.report(BENCH, f"healthy deliveries/s, {label}", stats.rps, "1/s")
        for label, stats in (("slow", mixed), ("hanging", hanging)):
            env.report(BENCH, f"p50 ratio {label} / baseline", round(stats.p50_ms / baseline.p50_ms, 2), "x")
            env.report(BENCH, f"p95 ratio {label} / baseline", round(stats.p95_ms / baseline.p95_ms, 2), "x")
        env.report(BENCH, "slow endpoint: events received meanwhile", unhealthy.get("slow/2", 0), "events")
        env.report(BENCH, "failing endpoint: events attempted", unhealthy.get("fail", 0), "events")
        async with env.sessionmaker() as session:
            attempts = await session.scalar(select(func.count()).select_from(WebhookAttempt))
            deliveries = await session.scalar(select(func.count()).select_from(WebhookDelivery))
        env.report(BENCH, "deliveries written (both phases)", deliveries, "rows")
        env.report(BENCH, "attempts logged (both phases)", attempts, "rows")
    finally:
        await running.stop()
