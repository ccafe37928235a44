"""The scheduled audit-chain check: AuditChainCheckWorkflow's contract, and the Temporal Schedule that runs it.

A Temporal Schedule (id `audit-chain-check`), created by the worker that polls the admin queue, starts the
workflow every `AUDIT_CHAIN_CHECK_EVERY_MINUTES` (one run at a time: a run still going skips the next). Each run
checks every firm's chain against the last anchor in the S3 store and, if all hold, writes a new anchor
(domain/audit/anchor.py). A Schedule rather than a looping workflow: operators see, pause and trigger it in
Temporal's UI and CLI (`temporal schedule trigger --schedule-id audit-chain-check`).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, ScheduleHandle

from orchestration import queues
from orchestration.maintenance_schedule import ensure_scheduled

CHECK_WORKFLOW = "AuditChainCheck"
CHECK_SCHEDULE_ID = "audit-chain-check"
CHECK_WORKFLOW_ID = "audit-chain-check-run"


async def ensure_check_scheduled(client: Client, every: timedelta, task_queue: str = queues.ADMIN) -> ScheduleHandle:
    return await ensure_scheduled(client, CHECK_SCHEDULE_ID, CHECK_WORKFLOW, CHECK_WORKFLOW_ID, every, task_queue)
