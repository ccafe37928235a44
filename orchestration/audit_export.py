"""The audit export's workflow (AuditExportWorkflow, `audit-export:<uuid>`): its contract and outbox message.
The export's row and its start message commit together, so a committed export always gets its workflow."""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from orchestration import ids, queues
from orchestration.message import Delivery, OutboxMessage

WORKFLOW = "AuditExport"
ENTITY_TYPE = "audit_export"
START = "audit_export.start"


class AuditExportInput(BaseModel):
    export_id: uuid.UUID


def started(export_id: uuid.UUID) -> OutboxMessage:
    return OutboxMessage(START, ENTITY_TYPE, str(export_id))


async def _deliver_start(delivery: Delivery, entity_id: str, payload: dict) -> None:
    export_id = uuid.UUID(entity_id)
    try:
        await delivery.temporal.start_workflow(
            WORKFLOW, AuditExportInput(export_id=export_id), id=ids.audit_export(export_id),
            task_queue=queues.ADMIN, id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
    except WorkflowAlreadyStartedError:
        pass  # a repeat: the export runs, or ran, once


HANDLERS = {START: _deliver_start}
