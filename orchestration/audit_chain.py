"""The scheduled audit-chain check: AuditChainCheckWorkflow's contract, and the Temporal Schedule that runs it.

A Temporal Schedule (id `audit-chain-check`), created by the worker that polls the admin queue, starts the
workflow every `AUDIT_CHAIN_CHECK_EVERY_MINUTES` (one run at a time: a run still going skips the next). Each run
checks every firm's chain against the last anchor in the S3 store and, if all hold, writes a new anchor
(domain/audit/anchor.py). A Schedule rather than a looping workflow: operators see, pause and trigger it in
Temporal's UI and CLI (`temporal schedule trigger --schedule-id audit-chain-check`).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client, Schedule, ScheduleActionStartWorkflow, ScheduleAlreadyRunningError, ScheduleHandle,
    ScheduleIntervalSpec, ScheduleOverlapPolicy, SchedulePolicy, ScheduleSpec,
)

from orchestration import queues

CHECK_WORKFLOW = "AuditChainCheck"
CHECK_SCHEDULE_ID = "audit-chain-check"
CHECK_WORKFLOW_ID = "audit-chain-check-run"


async def ensure_check_scheduled(client: Client, every: timedelta, task_queue: str = queues.ADMIN) -> ScheduleHandle:
    """Create the schedule unless it exists (one per namespace, whichever worker creates it)."""
    try:
        return await client.create_schedule(CHECK_SCHEDULE_ID, Schedule(
            action=ScheduleActionStartWorkflow(CHECK_WORKFLOW, id=CHECK_WORKFLOW_ID, task_queue=task_queue),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP)))
    except ScheduleAlreadyRunningError:
        return client.get_schedule_handle(CHECK_SCHEDULE_ID)
