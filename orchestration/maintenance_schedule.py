"""A maintenance job on a Temporal Schedule (the audit-chain check, the webhook-event prune): one schedule per
namespace, created by whichever worker polling the admin queue gets there first, starting its workflow at a fixed
interval, one run at a time (a run still going skips the next). A Schedule rather than a looping workflow:
operators see, pause and trigger it in Temporal's UI and CLI (`temporal schedule trigger --schedule-id …`)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client, Schedule, ScheduleActionStartWorkflow, ScheduleAlreadyRunningError, ScheduleHandle,
    ScheduleIntervalSpec, ScheduleOverlapPolicy, SchedulePolicy, ScheduleSpec,
)


async def ensure_scheduled(client: Client, schedule_id: str, workflow: str, workflow_id: str, every: timedelta,
                           task_queue: str) -> ScheduleHandle:
    """Create the schedule unless it exists; its handle either way."""
    try:
        return await client.create_schedule(schedule_id, Schedule(
            action=ScheduleActionStartWorkflow(workflow, id=workflow_id, task_queue=task_queue),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP)))
    except ScheduleAlreadyRunningError:
        return client.get_schedule_handle(schedule_id)
