"""The whole suite runs against real parts: the embedded stack (Postgres, Temporal dev server, SeaweedFS,
mail capture) started once per run in a temporary directory on free ports, the API app in process through
httpx, and real Temporal workers for every queue. Tests isolate by creating their own firm."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import pytest_asyncio

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support import (  # noqa: E402
    TaxPracticeHarness, make_settings, serve_identity_sandboxes, serve_transmitter,
)


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    from devstack.stack import EmbeddedStack

    with EmbeddedStack(tmp_path_factory.mktemp("stack"), fixed_ports=False) as running:
        yield running


@pytest.fixture(scope="session")
def settings(stack, tmp_path_factory):
    return make_settings(stack.env, tmp_path_factory.mktemp("app"))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def tp(settings):
    """The harness: app, HTTP client, Temporal client, running workers, and helpers to make firms and users."""
    harness = await TaxPracticeHarness.start(settings)
    try:
        yield harness
    finally:
        await harness.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def transmitter(tp):
    """The e-file transmitter sandbox on the address the workers were given (EFILING_API_URL), its signed webhooks
    handed to the in-process app as the sandbox would POST them."""
    async with serve_transmitter(tp) as box:
        yield box


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def identity_sandboxes(tp):
    """The Persona sandbox (webhooks handed to the in-process app) and the SMS gateway capture, on the addresses
    the workers were given (PERSONA_API_URL, SMS_GATEWAY_URL)."""
    async with serve_identity_sandboxes(tp) as box:
        yield box


# The temporalio runtime can abort the interpreter at exit after a successful run (sdk-python issue 300,
# TEMPORAL-NOTES.md): keep pytest's own exit status by leaving with os._exit once pytest is done.
_exit_status = {"code": 0}


def pytest_sessionfinish(session, exitstatus):
    _exit_status["code"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status["code"])
