"""TaxReturnOutboxRelayWorkflow: one per namespace (id `tax-return-outbox-relay`), started by the worker that
polls the tax-return queue. Every `interval_seconds` it delivers the outbox entries older than
`relay_after_seconds` that the API could not send (workflows/tax_return_outbox.py), and it continues as new
after `rounds_per_run` rounds so its history stays short.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy, WorkflowIDConflictPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.tax_return_outbox import TaxReturnOutboxActivities
    from workflows import queues
    from workflows.tax_return_outbox import RELAY_AFTER

RELAY_WORKFLOW_ID = "tax-return-outbox-relay"


class OutboxRelayInput(BaseModel):
    interval_seconds: float = 30.0
    relay_after_seconds: float = RELAY_AFTER.total_seconds()
    rounds_per_run: int = 200


@workflow.defn(name="TaxReturnOutboxRelay")
class TaxReturnOutboxRelayWorkflow:
    @workflow.run
    async def run(self, data: OutboxRelayInput) -> None:
        for _ in range(data.rounds_per_run):
            try:
                await workflow.execute_activity_method(
                    TaxReturnOutboxActivities.relay_outbox, data.relay_after_seconds,
                    start_to_close_timeout=timedelta(minutes=2),
                    retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=5))
            except ActivityError:  # Postgres unreachable for a while: the next round tries again
                workflow.logger.warning("outbox relay round failed", exc_info=True)
            await workflow.sleep(data.interval_seconds)
        workflow.continue_as_new(data)


async def ensure_running(client: Client, task_queue: str = queues.TAX_RETURN,
                         data: OutboxRelayInput | None = None) -> None:
    """Start the relay unless it runs already (one per namespace, whichever worker starts it)."""
    await client.start_workflow(TaxReturnOutboxRelayWorkflow.run, data or OutboxRelayInput(), id=RELAY_WORKFLOW_ID,
                                task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
