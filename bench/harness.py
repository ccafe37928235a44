"""What every benchmark gets: the embedded stack, a real API process (uvicorn) and a worker process, helpers
to create data, a load generator, and `report` that prints a table row and a JSON line per figure.

Benchmarks print figures; they never pass or fail on them. Each compares against a baseline measured in the
same run (a bare SQL endpoint, a raw Temporal round trip, a direct boto3 call …).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import sys
import time
import urllib.request
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable

import httpx

from devstack.ports import free_port
from devstack.process import ManagedProcess
from settings import PROJECT_ROOT
from tests.support import TaxPracticeHarness, make_settings

# `python -m bench --smoke` runs every benchmark at this fraction of its size: the test suite does, so a benchmark
# that no longer runs fails CI instead of being found broken when its figures are wanted. Its figures mean nothing.
SMOKE_ENV = "BENCH_SMOKE"
SMOKE_SCALE = 0.02


def smoke_run() -> bool:
    return os.environ.get(SMOKE_ENV) == "1"


def sized(full: int, smallest: int = 1) -> int:
    """A benchmark's count: `full`, or a small fraction of it (at least `smallest`) in a smoke run."""
    return max(smallest, round(full * SMOKE_SCALE)) if smoke_run() else full


# Rate limits are a production guard, not what a benchmark measures: lifted for the benchmark processes.
UNLIMITED = {"RATE_LIMIT_STANDARD": "100000000", "RATE_LIMIT_AUTH": "100000000", "RATE_LIMIT_UPLOAD": "100000000",
             "RATE_LIMIT_WEBHOOK": "100000000", "APP_ENV": "test"}
# The worker keeps every workflow a benchmark touches in memory, as production workers are sized to their
# active workflows (docs/tax_return.md); a benchmark that wants a cold cache restarts the worker. It writes the
# bytecode of what it imports, which the image has compiled in (Dockerfile), even where the environment says not
# to (PYTHONDONTWRITEBYTECODE): the workflow sandbox re-imports a workflow's module for each workflow it loads,
# and compiling its source every time would charge a cold transition ~5 ms that production does not pay.
WORKER_ENV = {"WORKFLOW_CACHE_SIZE": "4000", "PYTHONDONTWRITEBYTECODE": ""}


@dataclass
class Stats:
    count: int
    p50_ms: float
    p95_ms: float
    rps: float
    # What each failed call raised (its first line, e.g. "HTTP 503: {...}") and how often: a count alone
    # cannot tell overload from a bug.
    errors: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list, repr=False)  # sorted
    elapsed_s: float = 0.0

    def as_dict(self) -> dict:
        return {"count": self.count, "p50_ms": self.p50_ms, "p95_ms": self.p95_ms, "rps": self.rps,
                "errors": self.errors.total()}

    @classmethod
    def of(cls, latencies_ms: list[float], elapsed_s: float, errors: Counter[str]) -> "Stats":
        latencies = sorted(latencies_ms)
        if not latencies:
            return cls(0, float("nan"), float("nan"), 0.0, errors, [], elapsed_s)
        return cls(len(latencies), round(statistics.median(latencies), 2), round(_percentile(latencies, 0.95), 2),
                   round(len(latencies) / elapsed_s, 1), errors, latencies, elapsed_s)

    @classmethod
    def combine(cls, parts: list["Stats"]) -> "Stats":
        """One phase measured in several rounds (interleaved with another, so both see the same machine)."""
        return cls.of([ms for part in parts for ms in part.latencies_ms], sum(p.elapsed_s for p in parts),
                      sum((p.errors for p in parts), Counter()))


@contextmanager
def benchmark_logging_kept():
    """`create_app`, run in the benchmark's process for the harness's set-up calls, sets up that process's logging
    as an API process's: INFO lines, on stderr, of every request, SMTP exchange and redirect the process sees, each
    costing the load generator CPU. A benchmark prints its figures (warnings aside): its logging is put back after."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def _percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(int(round(fraction * (len(sorted_values) - 1))), len(sorted_values) - 1)
    return sorted_values[index]


async def measure(fn: Callable[[int], Awaitable[object]], concurrency: int = 16, total: int = 1000,
                  warmup: int = 20) -> Stats:
    """Call `fn(i)` `total` times from `concurrency` concurrent callers; a call that raises counts as an error."""
    for i in range(warmup):
        await fn(-1 - i)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    next_index = 0

    async def caller() -> None:
        nonlocal next_index
        while next_index < total:
            index = next_index
            next_index += 1
            start = time.perf_counter()
            try:
                await fn(index)
            except Exception as exc:
                errors[f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"] += 1
                continue
            latencies.append((time.perf_counter() - start) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return Stats.of(latencies, time.perf_counter() - began, errors)


SHARED_PROCESSES = ("api", "worker")  # started by BenchEnv.start for every benchmark of a run


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

    async def wait_for_workflows(self, query: str, expected: int, timeout_s: float = 900) -> int:
        """Until Temporal's visibility counts `expected` workflows matching `query` (the worker has caught up), or
        the timeout: the count reached, for the caller to report."""
        deadline = time.monotonic() + timeout_s
        count = 0
        while time.monotonic() < deadline:
            count = (await self.temporal.count_workflows(query)).count
            if count >= expected:
                break
            await asyncio.sleep(1)
        return count

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
                          "--port", str(port), "--no-access-log", "--log-level", "warning",
                          # Longer than the load generator's pool keeps a connection (httpx: 5 s), so the server
                          # never closes one just as a request goes out on it (a ReadError at load 30).
                          "--timeout-keep-alive", "30"],
                   ready_url=f"http://127.0.0.1:{port}/v1/health", **extra_env)
        return f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        self.api_url = self.spawn_uvicorn("api", "api.app:create_app")
        self._spawn_worker()
        settings = make_settings(self.stack_env, self.work_dir,
                                 workflow_cache_size=int(WORKER_ENV["WORKFLOW_CACHE_SIZE"]))
        with benchmark_logging_kept():
            self.tp = await TaxPracticeHarness.start(settings, api_url=self.api_url)

    def restart_worker(self, **extra_env: str) -> ManagedProcess:
        """A fresh worker process: an empty workflow cache, as after a deploy or a crash (`extra_env`: settings
        of its own, such as a sandbox's address)."""
        self.stop_processes([next(p for p in self.processes if p.name == "worker")])
        return self._spawn_worker(**extra_env)

    def _spawn_worker(self, **extra_env: str) -> ManagedProcess:
        # Its metrics on a free port: the default one (9101) is taken by the first stack on the machine.
        return self.spawn("worker", [sys.executable, "worker.py"], **WORKER_ENV,
                          **{"WORKER_METRICS_PORT": str(free_port()), **extra_env})

    def stop_processes_spawned_since(self, before: list[ManagedProcess]) -> None:
        """Stop what one benchmark started for itself (its own API processes, sandboxes, baselines), keeping the
        shared API and worker (a restarted worker included). Left running, each API process keeps its pool of
        Postgres connections: in one `make bench` the earlier benchmarks' pools reached Postgres's 100 connections,
        and the outbound webhooks benchmark's worker was refused ("too many clients already")."""
        self.stop_processes([p for p in self.processes if p not in before and p.name not in SHARED_PROCESSES])

    def stop_processes(self, processes: list[ManagedProcess]) -> None:
        """Stop these processes (SIGTERM to all first, so their shutdowns overlap) and forget them."""
        for process in processes:
            process.request_stop()
        for process in processes:
            process.stop()
            self.processes.remove(process)

    async def stop(self) -> None:
        if self.tp is not None:
            await self.tp.http.aclose()
            await self.tp.state.engine.dispose()
        self.stop_processes(list(self.processes))

    measure = staticmethod(measure)

    def report(self, bench: str, metric: str, value: float, unit: str) -> None:
        row = {"bench": bench, "metric": metric, "value": value, "unit": unit}
        self.rows.append(row)
        print(f"  {bench:<28} {metric:<44} {value:>12} {unit}", flush=True)
        print(json.dumps(row), flush=True)

    def cpu_by_part(self) -> dict[str, float]:
        return cpu_by_part(daemons_under=self.stack_env.get("DATA_DIR"))

    async def settle(self, idle_share: float = 0.15, timeout: float = 120.0) -> float:
        """Wait until the stack is idle (under `idle_share` of one core over a second), so a phase is not
        charged for the work a previous one left queued (the Temporal server drains visibility and timer
        tasks for a while after a burst of workflow starts). Returns the seconds waited."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            before = self.cpu_by_part()
            await asyncio.sleep(1.0)
            if _cpu_spent(before, self.cpu_by_part()) < idle_share:
                break
        return round(time.monotonic() - began, 1)

    def report_cpu(self, bench: str, label: str, before: dict[str, float], after: dict[str, float],
                   operations: int) -> None:
        """CPU milliseconds per operation, by part of the stack, between two `cpu_by_part` snapshots."""
        for part in sorted(after):
            spent = (after[part] - before.get(part, 0.0)) * 1000 / operations
            if spent >= 0.05:
                self.report(bench, f"{label} CPU/op: {part}", round(spent, 1), "ms")
        self.report(bench, f"{label} CPU/op: total", round(_cpu_spent(before, after) * 1000 / operations, 1), "ms")

    def report_stats(self, bench: str, label: str, stats: Stats) -> None:
        self.report(bench, f"{label} p50", stats.p50_ms, "ms")
        self.report(bench, f"{label} p95", stats.p95_ms, "ms")
        self.report(bench, f"{label} throughput", stats.rps, "req/s")
        if stats.errors:
            self.report(bench, f"{label} errors", stats.errors.total(), "requests")
            for error, count in stats.errors.most_common(5):
                print(f"    {count} × {error}", flush=True)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status < 500
    except Exception:  # not listening yet
        return False


def _proc_stat(pid: int, reaped: bool = True) -> tuple[int, float] | None:
    """(parent pid, user+system CPU seconds) of a process, from /proc (Linux); None once it is gone. `reaped`:
    with the CPU of its children that have exited and been waited for, so the Postgres backends that end between
    two snapshots still count (the postmaster reaps them); a living child is counted on its own."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped else 0)
    return int(fields[1]), ticks / os.sysconf("SC_CLK_TCK")


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        return ""


def _label(pid: int) -> str:
    command = _command(pid)
    for needle, label in (("bench.", "baseline process"), ("temporal", "Temporal server"), ("postgres", "Postgres"),
                          ("weed", "S3 store"), ("uvicorn", "API"), ("worker", "worker"), ("sandboxes", "sandbox")):
        if needle in command:
            return label
    return "other"


def cpu_by_part(daemons_under: str | None = None) -> dict[str, float]:
    """CPU seconds used so far by each part of the stack this process started (its descendants, grouped by
    the child that started them), plus "load generator" for this process. Servers that daemonize (pgserver's
    Postgres) count when their command line names `daemons_under`. Diff two snapshots to see where the CPU
    of a phase went: on a 2-core machine throughput is the inverse of the CPU an operation costs."""
    me = os.getpid()
    # This process's own CPU only: the parts of the stack it stopped (a restarted worker) are reaped by it.
    stats = {int(p): st for p in os.listdir("/proc") if p.isdigit() and (st := _proc_stat(int(p), int(p) != me))}
    totals = {"load generator": stats.get(me, (0, 0.0))[1]}
    for pid, (parent, cpu) in stats.items():
        top, hops = pid, 0
        while parent not in (me, 0, 1) and parent in stats and hops < 20:  # climb to our child, or to init's
            top, parent, hops = parent, stats[parent][0], hops + 1
        if pid == me or parent not in (me, 1):
            continue
        label = _label(top)
        if parent == 1 and not (daemons_under and daemons_under in _command(top)):
            continue
        totals[label] = totals.get(label, 0.0) + cpu
    return totals


def _cpu_spent(before: dict[str, float], after: dict[str, float]) -> float:
    """CPU seconds the whole stack used between two `cpu_by_part` snapshots."""
    return sum(after.values()) - sum(before.get(part, 0.0) for part in after)


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
