"""The retry schedule and the 5-day rule under time skipping (the Java test server), with the real activities
against the suite's Postgres and a real receiver: Svix's schedule to the second, Retry-After honoured, and an
endpoint failing every attempt for 5 days disabled with its admins mailed."""

from __future__ import annotations

import uuid

import pytest_asyncio
from temporalio.worker import Worker

from activities.webhook import WebhookActivities
from domain.context import ServiceContext
from domain.crypto import FieldCipher
from domain.outbound_webhook import service
from domain.principal import Principal
from domain.roles import Role
from integrations.webhook_sender import WebhookSender
from integrations.webhook_target import TargetPolicy
from orchestration import ids
from orchestration.webhook import DeliveryInput
from tests.outbound_webhook.conftest import attempts, deliveries, endpoint_row, register, unique
from orchestration.webhook import SCHEDULE_S
from workflows.webhook_delivery import WebhookDeliveryWorkflow

QUEUE = "webhooks-time-skipping"


@pytest_asyncio.fixture(loop_scope="session")
async def skipping(tp, time_skipping):
    activities = WebhookActivities(tp.worker_deps.sessionmaker, FieldCipher(tp.settings.ssn_encryption_key),
                                   WebhookSender(TargetPolicy(allow_local=True)), tp.state.mailer,
                                   tp.settings.api_base_url, 8)
    async with Worker(time_skipping.client, task_queue=QUEUE, workflows=[WebhookDeliveryWorkflow],
                      activities=[activities.attempt, activities.retries, activities.give_up]):
        yield time_skipping


async def _test_delivery(tp, firm, endpoint_id) -> uuid.UUID:
    """A delivery row, as POST …/test writes it (its workflow is started on the time-skipping server instead)."""
    async with tp.state.sessionmaker.begin() as session:
        ctx = ServiceContext(session, Principal(firm_id=firm.firm_id, role=Role.ADMIN, subject_id=firm.admin_id))
        return (await service.send_test(ctx, uuid.UUID(endpoint_id))).id


async def _run(env, delivery_id: uuid.UUID) -> str:
    return await env.client.execute_workflow(WebhookDeliveryWorkflow.run, DeliveryInput(delivery_id=delivery_id),
                                             id=ids.webhook_delivery(delivery_id), task_queue=QUEUE)


def _gaps_match(rows, waits) -> bool:
    """Each attempt the wait after the one before it (plus the attempt's own real second or so: the test server
    lets real time pass while an activity runs)."""
    gaps = [(b.attempted_at - a.attempted_at).total_seconds() for a, b in zip(rows, rows[1:])]
    assert len(gaps) == len(waits) and all(w <= g < w + 2 for g, w in zip(gaps, waits)), (gaps, waits)
    return True


async def test_svix_schedule_then_failed_and_five_days_disable(tp, receiver, firm, skipping):
    admin, _ = await tp.staff(firm.firm_id, "admin")
    path = "/fail/" + unique("schedule")
    endpoint = await register(tp, firm, receiver.url + path, events=["invoice.paid"])

    first = await _test_delivery(tp, firm, endpoint["id"])
    assert await _run(skipping, first) == "failed"
    rows = await attempts(tp, first)
    assert _gaps_match(rows, SCHEDULE_S[1:])  # 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
    assert [r.number for r in rows] == list(range(1, 9)) and all(r.status_code == 500 for r in rows)
    assert len(receiver.receiver.at(path)) == 8
    # About 27.6 hours of failures: not yet 5 days, so the endpoint stays enabled.
    row = await endpoint_row(tp, endpoint["id"])
    assert row.enabled and row.failing_since == rows[0].attempted_at

    # More events keep failing; the attempt that finds 5 days of nothing but failures disables the endpoint.
    outcomes = []
    while (await endpoint_row(tp, endpoint["id"])).enabled:
        assert len(outcomes) < 6, outcomes
        outcomes.append(await _run(skipping, await _test_delivery(tp, firm, endpoint["id"])))
    assert outcomes[-1] == "stopped" and all(o == "failed" for o in outcomes[:-1]), outcomes
    row = await endpoint_row(tp, endpoint["id"])
    assert row.disabled_reason == "failing"
    every = [a for d in await deliveries(tp, endpoint["id"]) for a in await attempts(tp, d.id)]
    assert all(not a.succeeded for a in every)
    since = [(a.attempted_at - row.failing_since).total_seconds() for a in every]
    # Disabled by the first attempt 5 days after the first failure, not one attempt earlier.
    assert since[-1] >= 5 * 86400 > since[-2], since
    assert (await deliveries(tp, endpoint["id"]))[-1].status == "failed"
    mail = await tp.wait_for_mail(admin.email)
    assert "disabled" in mail["subject"] and "5 days" in mail["text"]


async def test_retry_after_is_honoured(tp, receiver, firm, skipping):
    path = "/limited/3600/" + unique("limited")
    endpoint = await register(tp, firm, receiver.url + path, events=["invoice.paid"])
    delivery = await _test_delivery(tp, firm, endpoint["id"])
    assert await _run(skipping, delivery) == "failed"
    rows = await attempts(tp, delivery)
    # Each wait is the schedule's or the hour the receiver asked for, whichever is longer.
    assert _gaps_match(rows, [max(s, 3600) for s in SCHEDULE_S[1:]])
    assert all(r.status_code == 429 for r in rows)
