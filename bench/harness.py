"""What every benchmark gets: the embedded stack, a real API process (uvicorn) and a worker process, helpers
to create data, a load generator, and `report` that prints a table row and a JSON line per figure.

Benchmarks print figures; they never pass or fail on them. Each compares against a baseline measured in the
same run (a bare SQL endpoint, a raw Temporal round trip, a direct boto3 call …).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable

import httpx

from devstack.ports import free_port
from devstack.process import ManagedProcess
from settings import PROJECT_ROOT
from tests.support import TaxPracticeHarness, make_settings

# Rate limits are a production guard, not what a benchmark measures: lifted for the benchmark processes.
UNLIMITED = {"RATE_LIMIT_STANDARD": "100000000", "RATE_LIMIT_AUTH": "100000000", "RATE_LIMIT_UPLOAD": "100000000",
             "RATE_LIMIT_WEBHOOK": "100000000", "APP_ENV": "test"}


@dataclass
class Stats:
    count: int
    p50_ms: float
    p95_ms: float
    rps: float
    errors: int

    def as_dict(self) -> dict:
        return {"count": self.count, "p50_ms": self.p50_ms, "p95_ms": self.p95_ms, "rps": self.rps,
                "errors": self.errors}


def _percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(int(round(fraction * (len(sorted_values) - 1))), len(sorted_values) - 1)
    return sorted_values[index]


async def measure(fn: Callable[[int], Awaitable[object]], concurrency: int = 16, total: int = 1000,
                  warmup: int = 20) -> Stats:
    """Call `fn(i)` `total` times from `concurrency` concurrent callers; a call that raises counts as an error."""
    for i in range(warmup):
        await fn(-1 - i)
    latencies: list[float] = []
    errors = 0
    next_index = 0

    async def caller() -> None:
        nonlocal next_index, errors
        while next_index < total:
            index = next_index
            next_index += 1
            start = time.perf_counter()
            try:
                await fn(index)
            except Exception:
                errors += 1
                continue
            latencies.append((time.perf_counter() - start) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    if not latencies:
        return Stats(0, float("nan"), float("nan"), 0.0, errors)
    return Stats(len(latencies), round(statistics.median(latencies), 2), round(_percentile(latencies, 0.95), 2),
                 round(len(latencies) / elapsed, 1), errors)


@dataclass
class BenchEnv:
    stack_env: dict[str, str]
    work_dir: Path
    api_url: str = ""
    tp: TaxPracticeHarness | None = None
    processes: list[ManagedProcess] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)

    @property
    def http(self) -> httpx.AsyncClient:
        return self.tp.http

    @property
    def settings(self):
        return self.tp.settings

    @property
    def temporal(self):
        return self.tp.temporal

    @property
    def sessionmaker(self):
        return self.tp.state.sessionmaker

    def process_env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, **self.stack_env, **UNLIMITED, "DATA_DIR": str(self.work_dir), **extra}

    def spawn(self, name: str, argv: list[str], ready_url: str | None = None, **extra_env: str) -> ManagedProcess:
        process = ManagedProcess(name, argv, self.work_dir / "logs" / f"{name}.log", env=self.process_env(**extra_env),
                                 cwd=PROJECT_ROOT)
        self.processes.append(process)
        if ready_url:
            process.wait_ready(lambda: _answers(ready_url), timeout=60, what=f"an answer at {ready_url}")
        return process

    def spawn_uvicorn(self, name: str, app_factory: str, **extra_env: str) -> str:
        """A uvicorn server in its own process (the load generator must not share its CPU time slice)."""
        port = free_port()
        self.spawn(name, [sys.executable, "-m", "uvicorn", app_factory, "--factory", "--host", "127.0.0.1",
                          "--port", str(port), "--no-access-log", "--log-level", "warning"],
                   ready_url=f"http://127.0.0.1:{port}/v1/health", **extra_env)
        return f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        self.api_url = self.spawn_uvicorn("api", "api.app:create_app")
        self.spawn("worker", [sys.executable, "worker.py"])
        settings = make_settings(self.stack_env, self.work_dir)
        self.tp = await TaxPracticeHarness.start(settings, api_url=self.api_url)

    async def stop(self) -> None:
        if self.tp is not None:
            await self.tp.http.aclose()
            await self.tp.state.engine.dispose()
        for process in self.processes:
            process.request_stop()
        for process in self.processes:
            process.stop()

    measure = staticmethod(measure)

    def report(self, bench: str, metric: str, value: float, unit: str) -> None:
        row = {"bench": bench, "metric": metric, "value": value, "unit": unit}
        self.rows.append(row)
        print(f"  {bench:<28} {metric:<44} {value:>12} {unit}", flush=True)
        print(json.dumps(row), flush=True)

    def report_stats(self, bench: str, label: str, stats: Stats) -> None:
        self.report(bench, f"{label} p50", stats.p50_ms, "ms")
        self.report(bench, f"{label} p95", stats.p95_ms, "ms")
        self.report(bench, f"{label} throughput", stats.rps, "req/s")
        if stats.errors:
            self.report(bench, f"{label} errors", stats.errors, "requests")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status < 500
    except Exception:  # not listening yet
        return False


def process_rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def process_peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")
