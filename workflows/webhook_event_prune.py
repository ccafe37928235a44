"""WebhookEventPruneWorkflow: started by the `webhook-event-prune` Temporal Schedule (orchestration/
webhook_retention.py). One activity deletes the events past their retention with their deliveries and attempts."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.webhook_retention import PruneResult, WebhookRetentionActivities
    from orchestration.webhook_retention import PRUNE_WORKFLOW


@workflow.defn(name=PRUNE_WORKFLOW)
class WebhookEventPruneWorkflow:
    @workflow.run
    async def run(self) -> PruneResult:
        # Batches commit one by one, so a retried (or timed-out) run carries on where the last one stopped.
        return await workflow.execute_activity_method(
            WebhookRetentionActivities.prune_events, start_to_close_timeout=timedelta(hours=1),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=5))
