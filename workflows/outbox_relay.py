"""OutboxRelayWorkflow: one per namespace (id `outbox-relay`), started by the worker that polls the admin queue.
Every `interval_seconds` it delivers the outbox entries older than `relay_after_seconds` that the API could not
send (orchestration/outbox.py), and it continues as new after `rounds_per_run` rounds so its history stays short.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.outbox import OutboxActivities
    from orchestration.outbox import RELAY_WORKFLOW, OutboxRelayInput


@workflow.defn(name=RELAY_WORKFLOW)
class OutboxRelayWorkflow:
    @workflow.run
    async def run(self, data: OutboxRelayInput) -> None:
        for _ in range(data.rounds_per_run):
            try:
                await workflow.execute_activity_method(
                    OutboxActivities.relay_outbox, data.relay_after_seconds,
                    start_to_close_timeout=timedelta(minutes=2),
                    retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=5))
            except ActivityError:  # Postgres unreachable for a while: the next round tries again
                workflow.logger.warning("outbox relay round failed", exc_info=True)
            await workflow.sleep(data.interval_seconds)
        workflow.continue_as_new(data)
