"""AuditExportWorkflow: write one audit-log export to S3, then record its outcome."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.audit_export import AuditExportActivities, AuditExportFailure, AuditExportResult
    from orchestration import search_attributes as sa
    from orchestration.audit_export import WORKFLOW, AuditExportInput

# Search attributes are upserted only when they change; histories from before replay their every upsert.
PUBLISH_CHANGES_PATCH = "audit-export-publish-changes"


@workflow.defn(name=WORKFLOW)
class AuditExportWorkflow:
    @workflow.run
    async def run(self, data: AuditExportInput) -> AuditExportResult | None:
        publisher = sa.Publisher(PUBLISH_CHANGES_PATCH)
        publisher.publish({sa.ENTITY_TYPE: "audit_export", sa.ENTITY_STATUS: "processing"})
        try:
            result = await workflow.execute_activity_method(
                AuditExportActivities.write_export, data,
                start_to_close_timeout=timedelta(minutes=30), heartbeat_timeout=timedelta(minutes=2),
                retry_policy=RetryPolicy(maximum_attempts=5),
            )
        except ActivityError as err:
            await workflow.execute_activity_method(
                AuditExportActivities.mark_failed, AuditExportFailure(export_id=data.export_id, error=str(err.cause or err)),
                start_to_close_timeout=timedelta(seconds=30),
            )
            publisher.publish({sa.ENTITY_STATUS: "failed"})
            return None
        publisher.publish({sa.ENTITY_STATUS: "completed"})
        return result
