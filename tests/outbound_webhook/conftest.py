"""Fixtures for outbound webhooks: a receiver that verifies with the `standardwebhooks` library, an admin of a
firm of its own, and the fan-out running on the suite's webhooks worker."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import pytest
import pytest_asyncio
from sqlalchemy import select

from devstack.ports import free_port
from domain.outbound_webhook.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from orchestration.webhook import FanOutInput, ensure_fan_out_running
from sandboxes.webhook_receiver import Receiver, RunningReceiver, serve
from tests.billing.conftest import problem, time_skipping  # noqa: F401  (fixtures shared with billing)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def receiver(tp) -> RunningReceiver:
    running = await serve(Receiver(), free_port())
    await ensure_fan_out_running(tp.temporal, FanOutInput(poll_interval_s=0.1, run_seconds=120))
    try:
        yield running
    finally:
        await running.stop()


@dataclass
class Firm:
    firm_id: uuid.UUID
    admin_id: uuid.UUID
    admin: dict  # bearer headers


@pytest.fixture
async def firm(tp) -> Firm:
    firm_id = await tp.new_firm("Webhook firm")
    admin_id, admin = await tp.staff_session(firm_id, "admin")
    return Firm(firm_id, admin_id, admin)


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def register(tp, firm: Firm, url: str, events=("return.status_changed",), **fields) -> dict:
    response = await tp.http.post("/v1/admin/webhooks", headers=firm.admin,
                                  json={"url": url, "events": list(events), **fields})
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def endpoint_row(tp, endpoint_id) -> WebhookEndpoint:
    async with tp.state.sessionmaker() as session:
        return await session.get(WebhookEndpoint, uuid.UUID(str(endpoint_id)))


async def deliveries(tp, endpoint_id) -> list[WebhookDelivery]:
    async with tp.state.sessionmaker() as session:
        return list((await session.execute(select(WebhookDelivery).where(
            WebhookDelivery.endpoint_id == uuid.UUID(str(endpoint_id))).order_by(WebhookDelivery.created_at))).scalars())


async def attempts(tp, delivery_id) -> list[WebhookAttempt]:
    async with tp.state.sessionmaker() as session:
        return list((await session.execute(select(WebhookAttempt).where(
            WebhookAttempt.delivery_id == uuid.UUID(str(delivery_id))).order_by(WebhookAttempt.attempted_at,
                                                                               WebhookAttempt.number))).scalars())


async def until(check, timeout_s: float = 20.0, interval_s: float = 0.1):
    """Poll `check` (async, returns a truthy value when done) until it does."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not done within {timeout_s} s (last: {value!r})")
        await asyncio.sleep(interval_s)
