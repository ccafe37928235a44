"""`make bench` / `python -m bench [NAME …]`: run every bench/bench_*.py (or the named ones) on one stack."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import SMOKE_ENV, BenchEnv
from devstack.stack import EmbeddedStack

BENCH_DIR = Path(__file__).resolve().parent


def discover(names: list[str]) -> list[str]:
    available = sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))
    unknown = set(names) - set(available)
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}; available: {', '.join(available)}")
    return names or available


async def run_all(names: list[str], env: BenchEnv) -> None:
    await env.start()
    try:
        for name in names:
            module = importlib.import_module(f"bench.bench_{name}")
            print(f"\n== {name}: {(module.__doc__ or '').strip().splitlines()[0]}", flush=True)
            began = time.monotonic()
            before = list(env.processes)
            try:
                await module.run(env)
            finally:
                env.stop_processes_spawned_since(before)
            print(f"   ({time.monotonic() - began:.0f} s)", flush=True)
    finally:
        await env.stop()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--smoke", action="store_true",
                        help="every count at a small fraction: checks the benchmarks run; the figures mean nothing")
    args = parser.parse_args()
    if args.smoke:  # read when the benchmark modules are imported, below
        os.environ[SMOKE_ENV] = "1"
    logging.basicConfig(level=logging.WARNING)
    # SIGTERM (a timeout, a CI cancel) unwinds like Ctrl-C, so the stack and the child processes are stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    names = discover(args.names)
    code = 0
    with tempfile.TemporaryDirectory(prefix="taxpractice-bench-") as tmp:
        with EmbeddedStack(Path(tmp) / "stack", fixed_ports=False) as stack:
            env = BenchEnv(stack_env=stack.env, work_dir=Path(tmp) / "app")
            try:
                asyncio.run(run_all(names, env))
            except Exception:
                logging.exception("benchmark failed")
                code = 1
    sys.stdout.flush()
    os._exit(code)  # the temporalio runtime can abort at interpreter exit (TEMPORAL-NOTES.md)


if __name__ == "__main__":
    main()
