"""The scheduled purge of idempotency records: IdempotencyPurgeWorkflow's contract, and its start.

One per namespace (id `idempotency-purge`), on the admin queue, started by the worker that polls that queue, the
same shape as the outbox relay: every `interval_seconds` it deletes the records older than IDEMPOTENCY_TTL_HOURS
(domain/idempotency/service.purge_expired), and it continues as new after `rounds_per_run` rounds so its history
stays short. A workflow of its own rather than a step of the relay: the relay's recorded histories replay
unchanged, and each one's cadence is its own (30 s there, an hour here).
"""

from __future__ import annotations

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from orchestration import queues

PURGE_WORKFLOW = "IdempotencyPurge"
PURGE_WORKFLOW_ID = "idempotency-purge"


class IdempotencyPurgeInput(BaseModel):
    # Records live the TTL (24 h) plus at most one interval: the purge is what bounds how long a response
    # stays stored, since a key that is never used again is never looked up.
    interval_seconds: float = 3600.0
    rounds_per_run: int = 100


async def ensure_purge_running(client: Client, task_queue: str = queues.ADMIN,
                               data: IdempotencyPurgeInput | None = None) -> None:
    """Start the purge unless it runs already (one per namespace, whichever worker starts it)."""
    await client.start_workflow(PURGE_WORKFLOW, data or IdempotencyPurgeInput(), id=PURGE_WORKFLOW_ID,
                                task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
