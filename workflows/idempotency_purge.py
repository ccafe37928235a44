"""IdempotencyPurgeWorkflow: one per namespace (id `idempotency-purge`), started by the worker that polls the admin
queue. Every `interval_seconds` it deletes the expired idempotency records (orchestration/idempotency.py), and
it continues as new after `rounds_per_run` rounds so its history stays short.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.idempotency import IdempotencyActivities
    from orchestration.idempotency import PURGE_WORKFLOW, IdempotencyPurgeInput


@workflow.defn(name=PURGE_WORKFLOW)
class IdempotencyPurgeWorkflow:
    @workflow.run
    async def run(self, data: IdempotencyPurgeInput) -> None:
        for _ in range(data.rounds_per_run):
            try:
                await workflow.execute_activity_method(
                    IdempotencyActivities.purge_expired,
                    start_to_close_timeout=timedelta(minutes=5),
                    retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=5))
            except ActivityError:  # Postgres unreachable for a while: the next round deletes what is left
                workflow.logger.warning("idempotency purge round failed", exc_info=True)
            await workflow.sleep(data.interval_seconds)
        workflow.continue_as_new(data)
