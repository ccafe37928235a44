"""WebhookFanOutWorkflow (`webhook-fan-out`, one per namespace, started by a webhooks worker): turns domain events
into deliveries. One long activity polls the events table (activities/webhook.py `fan_out`) and heartbeats; when
it returns the workflow continues as new, so its history stays a handful of events."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.webhook import WebhookActivities
    from orchestration.webhook import FAN_OUT_WORKFLOW, FanOutInput


@workflow.defn(name=FAN_OUT_WORKFLOW)
class WebhookFanOutWorkflow:
    @workflow.run
    async def run(self, data: FanOutInput) -> None:
        await workflow.execute_activity_method(
            WebhookActivities.fan_out, data,
            start_to_close_timeout=timedelta(seconds=data.run_seconds + 120), heartbeat_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=10), maximum_attempts=0))
        workflow.continue_as_new(data)
