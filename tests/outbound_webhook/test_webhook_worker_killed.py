"""A worker killed while its attempt waits on the receiver: the attempt is retried by another worker, the event
arrives again under the same webhook-id (the receiver deduplicates on it), and the delivery succeeds."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

from temporalio.worker import Worker

from activities.webhook import WebhookActivities
from domain.crypto import FieldCipher
from integrations.webhook_sender import WebhookSender
from integrations.webhook_target import TargetPolicy
from orchestration import ids
from orchestration.webhook import DeliveryInput
from settings import PROJECT_ROOT
from tests.outbound_webhook.conftest import deliveries, register, unique, until
from tests.outbound_webhook.test_webhook_schedule import _test_delivery
from tests.tax_return.test_tax_return_crash import _worker_env
from workflows.webhook_delivery import WebhookDeliveryWorkflow

WORKER_SCRIPT = """
import asyncio, sys
from temporalio.worker import Worker
from settings import get_settings
from activities.webhook import WebhookActivities
from domain.crypto import FieldCipher
from integrations.webhook_sender import WebhookSender
from integrations.webhook_target import TargetPolicy
from worker import WorkerDependencies
from orchestration.connect import connect
from workflows.webhook_delivery import WebhookDeliveryWorkflow

async def main():
    settings = get_settings()
    client = await connect(settings)
    deps = WorkerDependencies.from_settings(settings)
    acts = WebhookActivities(deps.sessionmaker, FieldCipher(settings.ssn_encryption_key), WebhookSender(TargetPolicy(True)),
                             deps.providers.mailer, settings.api_base_url, 8)
    async with Worker(client, task_queue=sys.argv[1], workflows=[WebhookDeliveryWorkflow],
                      activities=[acts.attempt, acts.retries, acts.give_up]):
        print("ready", flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_worker_killed_mid_delivery_loses_nothing(tp, receiver, firm):
    queue = f"webhooks-crash-{uuid.uuid4().hex[:8]}"
    path = "/slow/3/" + unique("crash")
    endpoint = await register(tp, firm, receiver.url + path, events=["invoice.paid"])
    receiver.receiver.trust(path, endpoint["secret"])
    delivery_id = await _test_delivery(tp, firm, endpoint["id"])
    doomed = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, queue], cwd=PROJECT_ROOT,
                              env=_worker_env(tp.settings), stdout=subprocess.PIPE, text=True)
    try:
        assert (await asyncio.to_thread(doomed.stdout.readline)).strip() == "ready"
        handle = await tp.temporal.start_workflow(WebhookDeliveryWorkflow.run, DeliveryInput(delivery_id=delivery_id),
                                                  id=ids.webhook_delivery(delivery_id), task_queue=queue)
        await receiver.receiver.wait_for(path, 1)  # the request is at the receiver, its answer 3 s away
        doomed.kill()
        doomed.wait()
    finally:
        if doomed.poll() is None:
            doomed.kill()
    activities = WebhookActivities(tp.worker_deps.sessionmaker, FieldCipher(tp.settings.ssn_encryption_key),
                                   WebhookSender(TargetPolicy(allow_local=True)), tp.state.mailer,
                                   tp.settings.api_base_url, 8)
    async with Worker(tp.temporal, task_queue=queue, workflows=[WebhookDeliveryWorkflow],
                      activities=[activities.attempt, activities.retries, activities.give_up]):
        # The killed attempt times out (30 s), and Temporal runs it again here.
        assert await asyncio.wait_for(handle.result(), 90) == "succeeded"
    got = receiver.receiver.at(path)
    assert len(got) == 2 and all(r.verified for r in got)
    assert {r.headers["webhook-id"] for r in got} == {got[0].headers["webhook-id"]}
    [delivery] = await until(lambda: deliveries(tp, endpoint["id"]))
    assert delivery.status == "succeeded" and delivery.attempt_count == 1  # the killed one never recorded
