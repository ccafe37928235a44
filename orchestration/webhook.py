"""Outbound webhooks' workflows: their contracts, and the outbox message that starts a delivery.

- WebhookDelivery (`webhook-delivery:<delivery id>`, queue `webhooks`): one per (endpoint, event), and one per
  redelivery an admin asks for; it owns the retry schedule (workflows/webhook_delivery.py). Started from the
  outbox (`webhook.deliver`), written in the transaction that wrote the delivery row: the fan-out's, a test's or
  a redelivery's. REJECT_DUPLICATE: an entry delivered twice starts nothing the second time.
- WebhookFanOut (`webhook-fan-out`, queue `webhooks`): reads domain events not fanned out yet and writes a
  delivery (and its outbox message) for every enabled endpoint subscribed to the event's type.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.common import (SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy,
                               WorkflowIDReusePolicy)
from temporalio.exceptions import WorkflowAlreadyStartedError

from orchestration import ids, queues
from orchestration import search_attributes as sa
from orchestration.message import Delivery, OutboxMessage

DELIVERY_WORKFLOW = "WebhookDelivery"
FAN_OUT_WORKFLOW = "WebhookFanOut"
FAN_OUT_WORKFLOW_ID = "webhook-fan-out"
ENTITY_TYPE = "webhook_delivery"
DELIVER = "webhook.deliver"


class DeliveryInput(BaseModel):
    delivery_id: uuid.UUID


# Svix's schedule: an attempt now, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (about 27.6 hours in all).
SCHEDULE_S = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
MAX_RETRY_AFTER = timedelta(hours=24)  # the longest Retry-After (a 429 or 503 asking to slow down) honoured


def wait_before(number: int, retry_after_s: float | None) -> timedelta:
    """How long attempt `number` (from 1) waits after the one before it: the schedule's wait, or the Retry-After
    the one before it was answered with when that is longer (capped at MAX_RETRY_AFTER)."""
    asked = min(timedelta(seconds=retry_after_s or 0), MAX_RETRY_AFTER)
    return max(timedelta(seconds=SCHEDULE_S[number - 1]), asked)


class AttemptInput(BaseModel):
    delivery_id: uuid.UUID
    number: int  # its place in the retry schedule, from 1
    # The workflow's clock, so the 5-day rule reads the time the schedule runs on (and time-skipping tests hold).
    at: datetime


class AttemptOutcome(BaseModel):
    # delivered (2xx) | retry (a failure worth another attempt) | stop (410, endpoint gone or disabled)
    # | failed (the schedule spent: only from `webhook.retries`)
    result: str
    retry_after_s: float | None = None  # from a 429/503's Retry-After


class RetriesInput(BaseModel):
    """The attempts after the first, as one activity (activities/webhook.py, WebhookActivities.retries)."""
    delivery_id: uuid.UUID
    retry_after_s: float | None = None  # the first attempt's Retry-After: the second waits at least this long


class GiveUpInput(BaseModel):
    delivery_id: uuid.UUID
    at: datetime


class FanOutInput(BaseModel):
    poll_interval_s: float = 0.5
    run_seconds: float = 300.0  # one activity's polling before the workflow continues as new
    batch: int = 200


# The first workflow task runs the first attempt (a local activity, up to its 15 s request and the Postgres on
# either side). At the default 10 s a starved worker (measured at load average 25) let some tasks time out, and a
# timed-out task runs its attempt again: the same event sent twice. A lost worker's task is retried after this.
DELIVERY_TASK_TIMEOUT = timedelta(seconds=30)


def deliver(delivery_id: uuid.UUID) -> OutboxMessage:
    return OutboxMessage(DELIVER, ENTITY_TYPE, str(delivery_id))


async def start_delivery(client: Client, delivery_id: uuid.UUID) -> None:
    """Eager where it can be: started from a webhooks worker (the fan-out runs in one, with that worker's client),
    the server hands the first workflow task back in the start's answer, and the worker runs it at once (the
    first attempt is a local activity in it): no round through the task queue. From the API or the relay, which
    hold no webhooks worker, the SDK asks for nothing eager and the start is an ordinary one."""
    try:
        await client.start_workflow(
            DELIVERY_WORKFLOW, DeliveryInput(delivery_id=delivery_id), id=ids.webhook_delivery(delivery_id),
            task_queue=queues.WEBHOOKS, id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes([SearchAttributePair(sa.ENTITY_TYPE, ENTITY_TYPE)]),
            request_eager_start=True, task_timeout=DELIVERY_TASK_TIMEOUT)
    except WorkflowAlreadyStartedError:
        pass  # a repeat: this delivery runs, or ran, once


async def _deliver_start(delivery: Delivery, entity_id: str, payload: dict) -> None:
    await start_delivery(delivery.temporal, uuid.UUID(entity_id))


async def ensure_fan_out_running(client: Client, data: FanOutInput | None = None) -> None:
    """Start the fan-out unless it runs already (one per namespace, whichever webhooks worker starts it)."""
    await client.start_workflow(FAN_OUT_WORKFLOW, data or FanOutInput(), id=FAN_OUT_WORKFLOW_ID,
                                task_queue=queues.WEBHOOKS, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)


HANDLERS = {DELIVER: _deliver_start}
