"""PortalSyncWorkflow: one sync of one portal connection — begin (sign in, map the linked accounts), one pull
per (surface, account) in turn, finish. Started by the connection's Temporal Schedule (overlap: skip) or by a
manual sync (orchestration/portal.py). Cancelled when the connection is paused or deleted: the pull in flight
stops at its next heartbeat (and its next request is refused anyway), and the sync is recorded as cancelled."""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities.portal import PortalActivities
    from orchestration import search_attributes as sa
    from orchestration.portal import WORKFLOW, FinishInput, PortalSyncInput, PullInput, PullResult

PUBLISH_CHANGES_PATCH = "portal-sync-publish-changes"
# A portal that stays unavailable: a few tries with backoff, then the pull fails (the next sync resumes it from
# its cursor). Refusals are not retried (activities/collect.py).
PULL_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                         maximum_interval=timedelta(minutes=2), maximum_attempts=5)


@workflow.defn(name=WORKFLOW)
class PortalSyncWorkflow:
    @workflow.run
    async def run(self, data: PortalSyncInput) -> str:
        publisher = sa.Publisher(PUBLISH_CHANGES_PATCH)
        publisher.publish({sa.ENTITY_TYPE: "portal_sync", sa.PORTAL_CONNECTION_ID: str(data.connection_id),
                           sa.FIRM_ID: str(data.firm_id), sa.ENTITY_STATUS: "running"})
        begun = await workflow.execute_activity_method(
            PortalActivities.begin_sync, data, start_to_close_timeout=timedelta(minutes=5), retry_policy=PULL_RETRY)
        if begun.sync_id is None:
            publisher.publish({sa.ENTITY_STATUS: f"skipped:{begun.skipped}"})
            return f"skipped:{begun.skipped}"
        publisher.publish({sa.CLIENT_ID: str(begun.client_id)})
        results: list[PullResult] = list(begun.results)
        cancelled = False
        try:
            if not begun.stopped:
                for unit in begun.units:
                    pulled = await self._pull(PullInput(sync_id=begun.sync_id, connection_id=data.connection_id,
                                                        firm_id=data.firm_id, unit=unit))
                    results.append(pulled)
                    if pulled.status == "stopped":  # the consent or the connection no longer allows a request
                        break
        except (asyncio.CancelledError, CancelledError):
            cancelled = True
        finish = FinishInput(sync_id=begun.sync_id, connection_id=data.connection_id, results=results,
                             stopped=begun.stopped, cancelled=cancelled)
        # Recorded even when cancelled: the cancellation was delivered to the pull, not to this last step.
        finished = await workflow.execute_activity_method(
            PortalActivities.finish_sync, finish, start_to_close_timeout=timedelta(seconds=60),
            retry_policy=PULL_RETRY)
        publisher.publish({sa.ENTITY_STATUS: finished.outcome})
        if cancelled:
            raise CancelledError("portal sync cancelled")
        return finished.outcome

    async def _pull(self, data: PullInput) -> PullResult:
        try:
            return await workflow.execute_activity_method(
                PortalActivities.pull, data, start_to_close_timeout=timedelta(hours=2),
                heartbeat_timeout=timedelta(seconds=60), retry_policy=PULL_RETRY,
                cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
        except ActivityError as err:
            if isinstance(err.cause, CancelledError):
                raise asyncio.CancelledError() from err
            return PullResult(surface=data.unit.surface, portal_account_id=data.unit.portal_account_id,
                              status="failed", error=str(err.cause or err)[:400])
