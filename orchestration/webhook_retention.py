"""The scheduled prune of outbound webhooks' rows: WebhookEventPruneWorkflow's contract, and the Temporal Schedule
that runs it.

A Temporal Schedule (id `webhook-event-prune`), created by the worker that polls the admin queue, starts the
workflow once a day (one run at a time: a run still going skips the next). The run deletes the domain events
older than OUTBOUND_WEBHOOK_EVENT_RETENTION_DAYS (90 by default) with their deliveries and attempts, keeping any
with a delivery still pending (domain/outbound_webhook/retention.py). A Schedule, like the audit-chain check:
operators see, pause and trigger it in Temporal's UI and CLI (`temporal schedule trigger --schedule-id
webhook-event-prune`); `taxpractice webhooks prune` does the same from a shell.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, ScheduleHandle

from orchestration import queues
from orchestration.maintenance_schedule import ensure_scheduled

PRUNE_WORKFLOW = "WebhookEventPrune"
PRUNE_SCHEDULE_ID = "webhook-event-prune"
PRUNE_WORKFLOW_ID = "webhook-event-prune-run"
PRUNE_EVERY = timedelta(days=1)


async def ensure_prune_scheduled(client: Client, task_queue: str = queues.ADMIN) -> ScheduleHandle:
    return await ensure_scheduled(client, PRUNE_SCHEDULE_ID, PRUNE_WORKFLOW, PRUNE_WORKFLOW_ID, PRUNE_EVERY, task_queue)
