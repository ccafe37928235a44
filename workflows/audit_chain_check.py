"""AuditChainCheckWorkflow: started by the `audit-chain-check` Temporal Schedule (orchestration/audit_chain.py).
Checks every firm's audit chain against the last anchor, then anchors the heads again (a broken firm's as it was)."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.audit_chain import AuditChainActivities
    from orchestration.audit_chain import CHECK_WORKFLOW

RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=5)


@workflow.defn(name=CHECK_WORKFLOW)
class AuditChainCheckWorkflow:
    @workflow.run
    async def run(self) -> list[str]:
        """The firms whose chain is broken (recorded in audit_chain_checks and logged by the check)."""
        broken = await workflow.execute_activity_method(
            AuditChainActivities.check, start_to_close_timeout=timedelta(minutes=30), retry_policy=RETRY)
        await workflow.execute_activity_method(
            AuditChainActivities.anchor, broken, start_to_close_timeout=timedelta(minutes=5), retry_policy=RETRY)
        return broken
