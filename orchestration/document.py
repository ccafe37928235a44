"""The document workflows: DocumentProcessingWorkflow (`document:<uuid>`: classify → extract → SurePrep → tell
the return) and SmartVaultImportWorkflow (`smartvault-import:<account>:<document>`). Their contract, the
processing query, and their outbox messages: a document's row and the message that starts its processing commit
together, and so do a SmartVault webhook's record and its import's start."""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.document.models import Document
from orchestration import ids, queues
from orchestration.message import Delivery, OutboxMessage

PROCESSING_WORKFLOW = "DocumentProcessing"
SMARTVAULT_IMPORT_WORKFLOW = "SmartVaultImport"
PROCESS = "document.process"  # payload: DocumentInput
SMARTVAULT_IMPORT = "smartvault_import.start"  # payload: SmartVaultImportInput


class DocumentInput(BaseModel):
    document_id: uuid.UUID
    firm_id: uuid.UUID


class SmartVaultImportInput(BaseModel):
    firm_id: uuid.UUID
    account_id: str
    document_id: str
    name: str
    folder: str = ""


def processing_requested(document_id: uuid.UUID, firm_id: uuid.UUID) -> OutboxMessage:
    return OutboxMessage(PROCESS, "document", str(document_id),
                         DocumentInput(document_id=document_id, firm_id=firm_id).model_dump(mode="json"))


def smartvault_import_requested(job: SmartVaultImportInput) -> OutboxMessage:
    return OutboxMessage(SMARTVAULT_IMPORT, "smartvault_import", f"{job.account_id}:{job.document_id}",
                         job.model_dump(mode="json"))


async def is_processing(client: Client, document_id: uuid.UUID) -> bool:
    """Whether the document's processing workflow runs. Temporal out of reach is an error (503), not a "no":
    the answer decides whether processing may start again."""
    try:
        description = await client.get_workflow_handle(ids.document(document_id)).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:  # no workflow yet (or any more): nothing runs
            return False
        raise
    return description.status == WorkflowExecutionStatus.RUNNING


async def _deliver_process(delivery: Delivery, entity_id: str, payload: dict) -> None:
    """Start processing a document that waits for it (status `uploaded`: just uploaded, or sent back by a
    re-extraction request). A repeat of this message finds the run in progress and leaves it alone, or finds the
    document processed already and does nothing."""
    data = DocumentInput.model_validate(payload)
    document = await delivery.session.get(Document, data.document_id)
    if document is None or document.status != "uploaded":
        return
    try:
        await delivery.temporal.start_workflow(
            PROCESSING_WORKFLOW, data, id=ids.document(data.document_id), task_queue=queues.DOCUMENTS,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE)
    except WorkflowAlreadyStartedError:
        pass


async def _deliver_smartvault_import(delivery: Delivery, entity_id: str, payload: dict) -> None:
    job = SmartVaultImportInput.model_validate(payload)
    try:
        await delivery.temporal.start_workflow(
            SMARTVAULT_IMPORT_WORKFLOW, job, task_queue=queues.DOCUMENTS,
            id=ids.smartvault_import(job.account_id, job.document_id),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
    except WorkflowAlreadyStartedError:
        pass  # the same SmartVault document, announced again: imported once


HANDLERS = {PROCESS: _deliver_process, SMARTVAULT_IMPORT: _deliver_smartvault_import}
