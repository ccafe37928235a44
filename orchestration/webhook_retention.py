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

from temporalio.client import (
    Client, Schedule, ScheduleActionStartWorkflow, ScheduleAlreadyRunningError, ScheduleHandle,
    ScheduleIntervalSpec, ScheduleOverlapPolicy, SchedulePolicy, ScheduleSpec,
)

from orchestration import queues

PRUNE_WORKFLOW = "WebhookEventPrune"
PRUNE_SCHEDULE_ID = "webhook-event-prune"
PRUNE_WORKFLOW_ID = "webhook-event-prune-run"
PRUNE_EVERY = timedelta(days=1)


async def ensure_prune_scheduled(client: Client, task_queue: str = queues.ADMIN) -> ScheduleHandle:
    """Create the schedule unless it exists (one per namespace, whichever worker creates it)."""
    try:
        return await client.create_schedule(PRUNE_SCHEDULE_ID, Schedule(
            action=ScheduleActionStartWorkflow(PRUNE_WORKFLOW, id=PRUNE_WORKFLOW_ID, task_queue=task_queue),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=PRUNE_EVERY)]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP)))
    except ScheduleAlreadyRunningError:
        return client.get_schedule_handle(PRUNE_SCHEDULE_ID)
