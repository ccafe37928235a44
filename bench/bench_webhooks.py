"""Outbound webhooks: 10,000 events fanned out to 5 local endpoints, one slow (2 s) and one always failing, against
the same run with 5 healthy endpoints: the healthy endpoints' delivery latency must not move (isolation).

Besides the latency it prints what a delivery costs, the figures contention distorts least: CPU milliseconds per
delivery by process, history events, workflow tasks and activity tasks per delivery workflow, and the delivery
workflows completed per second. `BENCH_WEBHOOK_HANGING=1` adds a third phase with a receiver that hangs past the
15 s timeout in the slow one's place (off by default: it adds a phase to the full run)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType

from bench.harness import BenchEnv, Stats, smoke_run
from devstack.ports import free_port
from domain.event.record import add_event
from domain.outbound_webhook.models import WebhookAttempt, WebhookDelivery
from orchestration import ids
from sandboxes.webhook_receiver import Receiver, RunningReceiver, serve

BENCH = "webhooks"
# BENCH_WEBHOOK_EVENTS / BENCH_WEBHOOK_RATE: a partial run where the machine cannot take the full one.
EVENTS = int(os.environ.get("BENCH_WEBHOOK_EVENTS", 0)) or (10 if smoke_run() else 10_000)
# Events are written at this pace (a firm's steady stream, not one burst): the latency measured is then the
# path's, not the time a burst takes to drain. Both phases use the same pace. Measured on a quiet 2-core machine
# (docs/webhooks-outbound.md): 10 events/s (50 deliveries/s) is past what it delivers, ~30 deliveries/s, and the
# deliveries queued for minutes; 4 events/s (20 deliveries/s) kept up. At 4/s the full run takes 2 × 2,500 s of
# writing plus the drains, about 90 minutes.
EVENTS_PER_S = float(os.environ.get("BENCH_WEBHOOK_RATE", 4))
HANGING = os.environ.get("BENCH_WEBHOOK_HANGING") == "1"
# A phase's deliveries may queue behind a loaded server: allow for a slow machine, not for ever.
DRAIN_TIMEOUT_S = 600.0 + EVENTS * 0.3
HISTORY_SAMPLE = 20  # delivery workflows per endpoint kind whose history is read


@dataclass
class Phase:
    stats: Stats
    unhealthy: dict[str, int]  # events each unhealthy endpoint received
    deliveries: int  # every endpoint's (the CPU figures are per one of them)
    cpu_before: dict[str, float]
    cpu_after: dict[str, float]
    history: dict[str, dict[str, float]]  # endpoint kind -> per workflow: events, workflow tasks, activity tasks


async def _register(env: BenchEnv, headers: dict, receiver: RunningReceiver, path: str) -> str:
    response = await env.http.post("/v1/admin/webhooks", headers=headers,
                                   json={"url": receiver.url + path, "events": ["invoice.paid"]})
    assert response.status_code == 201, response.text
    receiver.receiver.trust(path, response.json()["data"]["secret"])  # it verifies every delivery, as a firm's would
    return response.json()["data"]["id"]


async def _write_events(env: BenchEnv, firm_id: uuid.UUID, events: int) -> float:
    """`events` thin events at EVENTS_PER_S, in small transactions (as changes commit them). Returns the seconds."""
    began = time.monotonic()
    batch = max(1, int(EVENTS_PER_S / 10))
    written = 0
    while written < events:
        async with env.sessionmaker.begin() as session:
            for _ in range(min(batch, events - written)):
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


async def _until_received(receiver: Receiver, paths: list[str], count: int) -> int:
    """Wait until the healthy endpoints have every event, or DRAIN_TIMEOUT_S; returns how many arrived (a machine
    too loaded to drain in time still gets its figures, over what arrived, with a warning)."""
    began = time.monotonic()
    while True:
        got = len({(r.path, r.headers["webhook-id"]) for r in receiver.received if r.path in paths})
        if got >= count:
            return got
        if time.monotonic() - began > DRAIN_TIMEOUT_S:
            print(f"   WARNING: healthy endpoints received {got} of {count} within {DRAIN_TIMEOUT_S:g} s: "
                  "the figures below are over what arrived", flush=True)
            return got
        await asyncio.sleep(0.25)


async def _history_costs(env: BenchEnv, endpoint_ids: list[str]) -> dict[str, float]:
    """Per delivery workflow of these endpoints (a sample; a failing one's history so far): history events,
    workflow tasks completed, activity tasks scheduled, activity runs (each Temporal retry of an activity is a
    run: a failing endpoint's later attempts are the retries of one activity) and markers (local activities, the
    patches): what the Temporal server stores and dispatches for one delivery."""
    async with env.sessionmaker() as session:
        delivery_ids = (await session.execute(
            select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id.in_([uuid.UUID(e) for e in endpoint_ids]))
            .limit(HISTORY_SAMPLE))).scalars().all()
    counts: Counter[str] = Counter()
    for delivery_id in delivery_ids:
        handle = env.temporal.get_workflow_handle(ids.webhook_delivery(delivery_id))
        history = await handle.fetch_history()
        counts["events"] += len(history.events)
        for event in history.events:
            counts["workflow tasks"] += event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
            counts["activity tasks"] += event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                counts["activity runs"] += event.activity_task_started_event_attributes.attempt
            counts["local activities"] += event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        # A retrying activity's runs so far are in its pending state, not in the history.
        pending = (await handle.describe()).raw_description.pending_activities
        counts["activity runs"] += sum(max(0, a.attempt - 1) for a in pending)
    return {name: round(counts[name] / max(1, len(delivery_ids)), 1)
            for name in ("events", "workflow tasks", "activity tasks", "activity runs", "local activities")}


async def _phase(env: BenchEnv, running: RunningReceiver, label: str, kinds: list[str], events: int = EVENTS) -> Phase:
    receiver = running.receiver
    firm = await env.tp.new_firm(f"Benchmark firm (webhooks, {label})")
    _, headers = await env.tp.staff_session(firm, "admin")
    run = uuid.uuid4().hex[:6]
    paths = [(kind, f"/{kind}/{label}-{run}-{i}") for i, kind in enumerate(kinds)]
    ids = {path: await _register(env, headers, running, path) for _, path in paths}
    healthy = [path for kind, path in paths if kind == "ok"]
    cpu_before = env.cpu_by_part()
    began = time.monotonic()
    await _write_events(env, firm, events)
    arrived = await _until_received(receiver, healthy, events * len(healthy))
    elapsed = time.monotonic() - began
    cpu_after = env.cpu_by_part()
    stats = Stats.of(_latencies_ms(receiver, healthy), elapsed, Counter())
    unverified = sum(1 for r in receiver.received if r.path in ids and not r.verified)
    assert unverified == 0, f"{unverified} deliveries failed the standardwebhooks verification"
    unhealthy = {kind: len({r.headers["webhook-id"] for r in receiver.at(path)}) for kind, path in paths
                 if kind != "ok"}
    history = {kind: await _history_costs(env, [ids[path] for k, path in paths if k == kind])
               for kind in dict.fromkeys(k for k, _ in paths)}
    for kind, path in paths:  # stop the slow backlog and the failing retries before the next phase
        if kind != "ok":
            await env.http.patch(f"/v1/admin/webhooks/{ids[path]}", headers=headers, json={"enabled": False})
    # CPU per delivery over the deliveries this phase asked for (a drain cut short counts only the healthy ones').
    deliveries = events * len(paths) if arrived >= events * len(healthy) else arrived
    return Phase(stats, unhealthy, deliveries, cpu_before, cpu_after, history)


async def run(env: BenchEnv) -> None:
    running = await serve(Receiver(), free_port())
    try:
        print(f"   {EVENTS} events at {EVENTS_PER_S:g}/s to 5 endpoints per phase "
              f"(2 cores shared with other work: figures are noisy; load average {os.getloadavg()[0]:.1f})",
              flush=True)
        # A few deliveries first, not measured: the first phase must not pay for the worker's and the server's
        # first use (connections, the fan-out's first round), or the comparison would favour the second.
        await _phase(env, running, "warm-up", ["ok"], events=min(EVENTS, 20))
        await env.settle()
        phases = {"all healthy (baseline)": await _phase(env, running, "baseline", ["ok"] * 5)}
        await env.settle()
        phases["with a slow and a failing"] = await _phase(env, running, "mixed", ["ok", "ok", "ok", "slow/2", "fail"])
        if HANGING:  # a receiver past our 15 s timeout: at 0.6 events/s or more it fills its cap of 8 attempts
            await env.settle()
            phases["with a hanging and a failing"] = await _phase(env, running, "hanging",
                                                                  ["ok", "ok", "ok", "slow/20", "fail"])
        baseline = phases["all healthy (baseline)"].stats
        for label, phase in phases.items():
            env.report(BENCH, f"healthy latency p50, {label}", phase.stats.p50_ms, "ms")
            env.report(BENCH, f"healthy latency p95, {label}", phase.stats.p95_ms, "ms")
            env.report(BENCH, f"healthy deliveries/s, {label}", phase.stats.rps, "1/s")
            env.report_cpu(BENCH, f"{label}: per delivery", phase.cpu_before, phase.cpu_after,
                           phase.deliveries)
            for kind, costs in phase.history.items():
                for name, value in costs.items():
                    env.report(BENCH, f"{label}: {kind} delivery workflow, {name}", value, "/wf")
            if phase.stats is not baseline:
                env.report(BENCH, f"p50 ratio {label} / baseline", round(phase.stats.p50_ms / baseline.p50_ms, 2), "x")
                env.report(BENCH, f"p95 ratio {label} / baseline", round(phase.stats.p95_ms / baseline.p95_ms, 2), "x")
        mixed = phases["with a slow and a failing"]
        env.report(BENCH, "slow endpoint: events received meanwhile", mixed.unhealthy.get("slow/2", 0), "events")
        env.report(BENCH, "failing endpoint: events attempted", mixed.unhealthy.get("fail", 0), "events")
        async with env.sessionmaker() as session:
            attempts = await session.scalar(select(func.count()).select_from(WebhookAttempt))
            deliveries = await session.scalar(select(func.count()).select_from(WebhookDelivery))
        env.report(BENCH, "deliveries written (every phase)", deliveries, "rows")
        env.report(BENCH, "attempts logged (every phase)", attempts, "rows")
        env.report(BENCH, "load average at the end", round(os.getloadavg()[0], 1), "")
    finally:
        await running.stop()
