"""Where the first page of `GET /v1/clients` spends its time, part by part (issue 19, lists).

The app is built in the benchmark's own process (the same `create_app` the API process runs, on the same stack)
and called through httpx's ASGI transport one request at a time, so nothing else runs while a part is timed.
Each part is timed by wrapping the one function that does it (in this process only; the API process measured by
bench_client is untouched): wall time, which includes the part's round trips to Postgres, and the CPU time this
process spent in it. What no part claims (FastAPI's routing and dependencies, the middleware, the tracing
spans, the request log line, JSON, and httpx's own client work in this process) is reported as the rest. Statements are counted per request, each a round trip.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Any, Callable

import httpx
from sqlalchemy import event

import api.envelope
import domain.client.service
import domain.listing
from api.app import create_app
from api.middleware import RateLimiter
from bench.harness import benchmark_logging_kept
from domain.audit.read_log import CommittedReadAudit
from domain.auth.service import Authenticator
from sqlalchemy.ext.asyncio import AsyncSessionTransaction

# The parts, in the order a request meets them: (label, owner, attribute). Each is an async function but
# `envelope.page`, the synchronous render of the page's items and envelope.
PARTS: list[tuple[str, Any, str]] = [
    ("rate limit (shared counter)", RateLimiter, "hit"),
    ("authentication (token + session check)", Authenticator, "authenticate"),
    ("count + page query", domain.client.service, "paginate"),
    ("envelope (render items)", api.envelope, "page"),
    ("PII read audit row", CommittedReadAudit, "append"),
    ("transaction end (flush, COMMIT)", AsyncSessionTransaction, "__aexit__"),
]
# Inside a part above, shown on its own but not counted twice.
WITHIN = [("of it: planner's estimate past 10,000 (EXPLAIN)", domain.listing, "_total")]


class PartTimer:
    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.statements = 0

    def wrap(self, label: str, fn: Callable) -> Callable:
        timer = self
        if hasattr(fn, "__code__") and fn.__code__.co_flags & 0x80:  # a coroutine function
            async def timed(*args, **kwargs):
                wall, cpu = time.perf_counter(), time.thread_time()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    timer.wall[label] += time.perf_counter() - wall
                    timer.cpu[label] += time.thread_time() - cpu
        else:
            def timed(*args, **kwargs):
                wall, cpu = time.perf_counter(), time.thread_time()
                try:
                    return fn(*args, **kwargs)
                finally:
                    timer.wall[label] += time.perf_counter() - wall
                    timer.cpu[label] += time.thread_time() - cpu
        return timed


@contextmanager
def timing(timer: PartTimer, engine):
    originals = [(owner, name, getattr(owner, name)) for _, owner, name in PARTS + WITHIN]
    for label, owner, name in PARTS + WITHIN:
        setattr(owner, name, timer.wrap(label, getattr(owner, name)))

    def count_statement(*_args) -> None:
        timer.statements += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count_statement)
    try:
        yield
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count_statement)
        for owner, name, original in originals:
            setattr(owner, name, original)


async def measure_parts(settings, state, path: str, headers: dict, requests: int) -> dict[str, tuple[float, float]]:
    """{part: (wall ms per request, CPU ms per request)}, plus "statements per request"."""
    # create_app sets up this process's logging as the API process's: each request's log line is formatted and
    # written by its one handler here as there (its cost is one of the parts), to a discarded stream instead of the
    # benchmark's output, with the benchmark's own handlers set aside until the end.
    with benchmark_logging_kept(), open(os.devnull, "w") as discard:
        root = logging.getLogger()
        benchmark_handlers = list(root.handlers)
        app = create_app(settings, state)
        for handler in list(root.handlers):
            if handler in benchmark_handlers:
                root.removeHandler(handler)
            else:
                handler.setStream(discard)
        return await _measure(app, state, path, headers, requests)


async def _measure(app, state, path: str, headers: dict, requests: int) -> dict[str, tuple[float, float]]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://parts") as http:
        for _ in range(20):  # warm: pooled connections, compiled statements
            (await http.get(path, headers=headers)).raise_for_status()
        timer = PartTimer()
        with timing(timer, state.engine):
            wall, cpu = time.perf_counter(), time.thread_time()
            for _ in range(requests):
                (await http.get(path, headers=headers)).raise_for_status()
            total_wall, total_cpu = time.perf_counter() - wall, time.thread_time() - cpu
    per = lambda seconds: round(seconds * 1000 / requests, 2)  # noqa: E731
    parts = {label: (per(timer.wall[label]), per(timer.cpu[label])) for label, _, _ in PARTS}
    claimed_wall = sum(w for w, _ in parts.values())
    claimed_cpu = sum(c for _, c in parts.values())
    parts.update({label: (per(timer.wall[label]), per(timer.cpu[label])) for label, _, _ in WITHIN})
    parts["rest: routing, middleware, tracing, log line, JSON, httpx"] = (round(per(total_wall) - claimed_wall, 2),
                                                                          round(per(total_cpu) - claimed_cpu, 2))
    parts["total (in process, one at a time)"] = (per(total_wall), per(total_cpu))
    parts["statements per request"] = (round(timer.statements / requests, 1), 0.0)
    return parts
