"""AuditExportWorkflow: write one audit-log export to S3, then record its outcome."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.audit_export import (
        AuditExportActivities, AuditExportFailure, AuditExportInput, AuditExportResult,
    )
    from workflows import search_attributes as sa


@workflow.defn(name="AuditExport")
class AuditExportWorkflow:
    @workflow.run
    async def run(self, data: AuditExportInput) -> AuditExportResult | None:
        workflow.upsert_search_attributes([sa.ENTITY_TYPE.value_set("audit_export"),
                                           sa.ENTITY_STATUS.value_set("processing")])
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
            workflow.upsert_search_attributes([sa.ENTITY_STATUS.value_set("failed")])
            return None
        workflow.upsert_search_attributes([sa.ENTITY_STATUS.value_set("completed")])
        return result
