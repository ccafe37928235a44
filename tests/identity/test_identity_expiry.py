"""A verification not finished in its 7 days expires (the workflow's durable timer, under the time-skipping test
server), and the client's identity_verification_status follows; one in manual review waits for staff."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest_asyncio
from temporalio.worker import Worker

from activities.collect import activity_methods
from activities.identity import IdentityActivities
from domain.client.models import Client
from domain.crypto import FieldCipher
from domain.identity.models import IdentityVerification
from orchestration import ids, queues
from orchestration.identity import FINISHED_SIGNAL, IdentityVerificationInput
from worker import WorkerDependencies
from workflows.identity import IdentityVerificationWorkflow
from tests.support import signal_ending, start_time_skipping


@pytest_asyncio.fixture(loop_scope="session")
async def skipping(tp):
    env = await start_time_skipping()
    deps = WorkerDependencies.from_settings(tp.settings)
    activities = activity_methods(IdentityActivities(deps.sessionmaker, deps.providers.notifications,
                                                     deps.providers.sms, deps.providers.identity,
                                                     FieldCipher(tp.settings.ssn_encryption_key)))
    async with Worker(env.client, task_queue=queues.IDENTITY, workflows=[IdentityVerificationWorkflow],
                      activities=activities):
        yield env
    await env.shutdown()


async def _verification(tp, headers, steps_status: str = "pending") -> IdentityVerification:
    client = await tp.new_client(headers)
    response = await tp.http.post(f"/v1/clients/{client['id']}/identity/verify", headers=headers,
                                  json={"tier": 2, "methods": ["government_id"]})
    assert response.status_code == 201, response.text
    vid = uuid.UUID(response.json()["data"]["verification_id"])
    async with tp.state.sessionmaker.begin() as session:
        row = await session.get(IdentityVerification, vid)
        if steps_status == "needs_review":
            row.steps = [{"step": "government_id", "status": "needs_review", "confidence": 0.8}]
            row.status = "needs_review"
    return row


async def _client_status(tp, client_id) -> str:
    async with tp.state.sessionmaker() as session:
        return (await session.get(Client, client_id)).identity_verification_status


async def test_an_unfinished_verification_expires_after_seven_days(tp, skipping):
    env = skipping
    firm = await tp.new_firm()
    _, admin = await tp.staff_session(firm, "admin")
    row = await _verification(tp, admin)
    pending = await _verification(tp, admin, "needs_review")
    handles = [await env.client.start_workflow(
        IdentityVerificationWorkflow.run, IdentityVerificationInput(
            verification_id=v.id, firm_id=v.firm_id, expires_at=v.expires_at),
        id=ids.identity_verification(v.id) + "-expiry", task_queue=queues.IDENTITY) for v in (row, pending)]
    assert await handles[0].result() == "expired"
    async with tp.state.sessionmaker() as session:
        expired = await session.get(IdentityVerification, row.id)
    assert expired.status == "expired" and expired.steps[0]["status"] == "expired"
    assert await _client_status(tp, row.client_id) == "expired"
    # The one in manual review is still waiting for staff after the seven days.
    await env.sleep(timedelta(days=1))
    async with tp.state.sessionmaker() as session:
        assert (await session.get(IdentityVerification, pending.id)).status == "needs_review"
    await signal_ending(env.client, handles[1], FINISHED_SIGNAL)
    assert await handles[1].result() == "finished"
