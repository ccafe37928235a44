"""WebhookDeliveryWorkflow (`webhook-delivery:<delivery id>`): one event to one endpoint, on Svix's schedule.

An attempt now, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (about 27.6 hours in all); a Retry-After
longer than the next wait (a 429 or 503 asking to slow down) is honoured, up to MAX_RETRY_AFTER. The schedule stops
at the first 2xx, and at a 410 Gone or an endpoint disabled or deleted meanwhile; spent, the delivery is failed.
An endpoint that fails every attempt for 5 days is disabled by the attempt that finds it so (domain/
outbound_webhook/delivery.py). A worker killed mid-attempt has it retried by Temporal, sending the same event
under the same `webhook-id`.

The first attempt is a local activity (patch FIRST_ATTEMPT_LOCAL): most deliveries succeed at once, and a local
activity runs inside the workflow task that started the workflow, so such a delivery is one workflow task and
six history events (started, task scheduled/started/completed, the attempt's marker, completed) instead of two
workflow tasks, an activity task and eleven events: the Temporal server's work per delivery, which bounds how
many a second it can take, roughly halves. A local attempt that cannot run (its endpoint at its cap, Postgres
away, a worker lost) is run again as the activity it always was, with Temporal's retries.

The attempts after the first are one activity, `webhook.retries` (patch RETRIES_IN_ACTIVITY), whose Temporal
retries are the schedule: each failed attempt fails the activity with the next wait as its `next_retry_delay`.
A dead endpoint's retry then costs one activity task, with no timer, no workflow task and no history event, where
it cost a timer, two workflow tasks and an activity task: at the full size of bench/bench_webhooks.py those retries
were more work than the healthy endpoints' deliveries and took the CPU from them (docs/webhooks-outbound.md,
"Isolation"). The delivery log in Postgres keeps every attempt; Temporal UI shows the pending activity's attempt
count and last failure.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.webhook import WebhookActivities
    from orchestration.webhook import (DELIVERY_WORKFLOW, SCHEDULE_S, AttemptInput, AttemptOutcome, DeliveryInput,
                                       GiveUpInput, RetriesInput, wait_before)

# An attempt's request has 15 s; the rest is Postgres on both sides of it.
ATTEMPT_TIMEOUT = timedelta(seconds=30)
# Infrastructure failures (Postgres away, a worker killed, the endpoint busy) are retried by Temporal, forever, and
# are no attempt of the schedule: they never reached the receiver, or (a worker killed after sending) resend
# the same event id, which the receiver deduplicates. The schedule's own waits, longer than maximum_interval,
# come as each failure's next_retry_delay, which the server does not cap.
ATTEMPT_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                            maximum_interval=timedelta(seconds=10), maximum_attempts=0)
FIRST_ATTEMPT_LOCAL = "webhook-first-attempt-local"
RETRIES_IN_ACTIVITY = "webhook-retries-in-activity"
RESULT = {"delivered": "succeeded", "stop": "stopped", "failed": "failed"}


# Not sandboxed: the sandbox re-imports this module and its imports for every workflow run, part of what the
# worker spent per delivery (bench/bench_webhooks.py), and a fan-out starts thousands of these a minute. The code
# is a loop of timers and activities importing nothing but the passed-through contracts, workflow.now() its only
# clock, and the recorded histories (tests/outbound_webhook/histories) replay it.
@workflow.defn(name=DELIVERY_WORKFLOW, sandboxed=False)
class WebhookDeliveryWorkflow:
    @workflow.run
    async def run(self, data: DeliveryInput) -> str:
        # No status search attribute: the delivery log in Postgres is where a delivery's state is read, and a
        # visibility write per delivery would double what a fan-out of thousands costs the server.
        first = await self._attempt(AttemptInput(delivery_id=data.delivery_id, number=1, at=workflow.now()))
        if first.result != "retry":
            return RESULT[first.result]
        if workflow.patched(RETRIES_IN_ACTIVITY):
            outcome = await workflow.execute_activity_method(
                WebhookActivities.retries, RetriesInput(delivery_id=data.delivery_id,
                                                        retry_after_s=first.retry_after_s),
                start_to_close_timeout=ATTEMPT_TIMEOUT, retry_policy=ATTEMPT_RETRY)
            return RESULT[outcome.result]
        return await self._retried_on_timers(data, first)

    async def _retried_on_timers(self, data: DeliveryInput, first: AttemptOutcome) -> str:
        """The attempts after the first before RETRIES_IN_ACTIVITY: a timer and an activity each. Kept while
        deliveries started before it may still run (their schedule ends 27.6 hours after their start)."""
        asked = first.retry_after_s
        for number in range(2, len(SCHEDULE_S) + 1):
            await workflow.sleep(wait_before(number, asked))
            outcome = await self._attempt(AttemptInput(delivery_id=data.delivery_id, number=number,
                                                       at=workflow.now()))
            if outcome.result != "retry":
                return RESULT[outcome.result]
            asked = outcome.retry_after_s
        await workflow.execute_activity_method(
            WebhookActivities.give_up, GiveUpInput(delivery_id=data.delivery_id, at=workflow.now()),
            start_to_close_timeout=ATTEMPT_TIMEOUT, retry_policy=ATTEMPT_RETRY)
        return "failed"

    async def _attempt(self, attempt: AttemptInput) -> AttemptOutcome:
        if attempt.number == 1 and workflow.patched(FIRST_ATTEMPT_LOCAL):
            try:
                return await workflow.execute_local_activity_method(
                    WebhookActivities.attempt, attempt, start_to_close_timeout=ATTEMPT_TIMEOUT,
                    retry_policy=RetryPolicy(maximum_attempts=1))
            except ActivityError:
                pass  # not run (busy endpoint, Postgres away): the same attempt as an activity, retried by Temporal
        return await workflow.execute_activity_method(WebhookActivities.attempt, attempt,
                                                      start_to_close_timeout=ATTEMPT_TIMEOUT,
                                                      retry_policy=ATTEMPT_RETRY)
