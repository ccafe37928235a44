"""The API and a worker as `make run` and production start them — their own processes — serve /metrics on their
own ports (business gauges refreshed by the API's lifespan), and write readable request lines."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import httpx

from devstack.ports import accepts_connections, free_port
from settings import PROJECT_ROOT

STACK_SETTINGS = ("database_url", "temporal_address", "temporal_namespace", "s3_endpoint_url", "s3_bucket",
                  "aws_access_key_id", "aws_secret_access_key", "smtp_host", "smtp_port", "data_dir",
                  "stripe_api_base")


def process_env(tp, **extra) -> dict[str, str]:
    values = {name.upper(): str(getattr(tp.settings, name)) for name in STACK_SETTINGS
              if getattr(tp.settings, name) is not None}
    return {**os.environ, **values, "APP_ENV": "test", **extra}


async def wait_for_port(port: int, process, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not accepts_connections(port):
        assert process.returncode is None, "the process exited"
        assert time.monotonic() < deadline, f"nothing listens on {port}"
        await asyncio.sleep(0.2)


async def stop(process) -> str:
    process.terminate()
    _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    return err.decode(errors="replace")


async def test_the_api_process_serves_metrics_on_its_own_port_with_business_gauges(tp):
    port, metrics_port = free_port(), free_port()
    api = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port),
        cwd=PROJECT_ROOT, env=process_env(tp, API_METRICS_PORT=str(metrics_port), BUSINESS_GAUGES_INTERVAL_S="0.5"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await wait_for_port(port, api)
        await wait_for_port(metrics_port, api)
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"http://127.0.0.1:{port}/v1/health/ready")).status_code == 200
            assert (await http.get(f"http://127.0.0.1:{port}/metrics")).status_code == 404
            deadline = time.monotonic() + 20
            while True:
                exposition = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
                if "taxpractice_returns_stuck " in exposition or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.3)
        assert 'route="/v1/health/ready"' in exposition
        assert "taxpractice_returns_stuck " in exposition and "taxpractice_outbox_oldest_age_seconds " in exposition
    finally:
        log = await stop(api)
    assert "taxpractice.request  GET /v1/health/ready 200" in log, log[-2000:]


async def test_a_worker_process_serves_the_temporal_sdk_metrics_on_its_own_port(tp):
    metrics_port = free_port()
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "worker.py", "--queue", "documents", cwd=PROJECT_ROOT,
        env=process_env(tp, WORKER_METRICS_PORT=str(metrics_port)),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        seen = []
        while not any("workers polling documents" in line for line in seen):  # a readable line, then polling
            line = (await asyncio.wait_for(worker.stderr.readline(), timeout=60)).decode()
            assert line, "the worker exited: " + "".join(seen)[-2000:]
            seen.append(line)
        async with httpx.AsyncClient() as http:
            deadline = time.monotonic() + 20
            while 'task_queue="documents"' not in (text := (await http.get(
                    f"http://127.0.0.1:{metrics_port}/metrics")).text):
                assert time.monotonic() < deadline, text[:1000]
                await asyncio.sleep(0.3)
        assert "temporal_worker_task_slots_available" in text
    finally:
        worker.terminate()
        await asyncio.wait_for(worker.wait(), timeout=30)
