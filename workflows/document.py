"""DocumentProcessingWorkflow: one run per document (id `document:<uuid>`), each step an activity:
uploaded → classifying → extracting → processed | review_required, then SurePrep (with consent) and the
return's workflow told what arrived."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.document import DocumentActivities, DocumentOutcome, SmartVaultImportResult
    from orchestration import search_attributes as sa
    from orchestration.document import (
        PROCESSING_WORKFLOW, SMARTVAULT_IMPORT_WORKFLOW, DocumentInput, SmartVaultImportInput,
    )

STEP_TIMEOUT = timedelta(minutes=5)
RETRY = RetryPolicy(maximum_attempts=10, maximum_interval=timedelta(minutes=1))
# Search attributes are upserted only when they change; histories from before replay their every upsert.
PUBLISH_CHANGES_PATCH = "document-publish-changes"


@workflow.defn(name=PROCESSING_WORKFLOW)
class DocumentProcessingWorkflow:
    @workflow.run
    async def run(self, data: DocumentInput) -> DocumentOutcome:
        publisher = sa.Publisher(PUBLISH_CHANGES_PATCH)
        publisher.publish({sa.ENTITY_TYPE: "document", sa.ENTITY_STATUS: "classifying",
                           sa.FIRM_ID: str(data.firm_id)})
        classified = await workflow.execute_activity_method(
            DocumentActivities.classify, data, start_to_close_timeout=STEP_TIMEOUT, retry_policy=RETRY)
        if not classified.found:
            publisher.publish({sa.ENTITY_STATUS: "deleted"})
            return DocumentOutcome(status="deleted", document_type=None)
        publisher.publish({sa.ENTITY_STATUS: "extracting"})
        extracted = await workflow.execute_activity_method(
            DocumentActivities.extract, data, start_to_close_timeout=STEP_TIMEOUT, retry_policy=RETRY)
        publisher.publish({sa.ENTITY_STATUS: extracted.status})
        sureprep = await workflow.execute_activity_method(
            DocumentActivities.send_to_sureprep, data, start_to_close_timeout=STEP_TIMEOUT, retry_policy=RETRY)
        notified = await workflow.execute_activity_method(
            DocumentActivities.notify_return, data, start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY)
        return DocumentOutcome(status=extracted.status, document_type=classified.document_type,
                               review_reason=extracted.review_reason, sureprep=sureprep.outcome,
                               signals=notified.sent)


@workflow.defn(name=SMARTVAULT_IMPORT_WORKFLOW)
class SmartVaultImportWorkflow:
    """One SmartVault document into the pending queue (id `smartvault-import:<account>:<document>`)."""

    @workflow.run
    async def run(self, data: SmartVaultImportInput) -> SmartVaultImportResult:
        publisher = sa.Publisher(PUBLISH_CHANGES_PATCH)
        publisher.publish({sa.ENTITY_TYPE: "smartvault_import", sa.FIRM_ID: str(data.firm_id)})
        result = await workflow.execute_activity_method(
            DocumentActivities.import_from_smartvault, data, start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=RETRY)
        publisher.publish({sa.ENTITY_STATUS: result.outcome})
        return result
