"""The identity verification's workflow (IdentityVerificationWorkflow, `identity-verification:<uuid>`, queue
`identity`): its contract, its typed client and its outbox messages.

Outbox kinds: `identity_verification.start` (a verification was initiated), `identity_verification.send_code`
(a one-time code was made: the workflow sends it), `identity_verification.finished` (the verification reached a
final status: the workflow ends). The government ID step needs an answer (the inquiry's link): an Update,
`government_id`, which starts the workflow from the row if it is missing.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from domain.identity.models import IdentityVerification
from orchestration import domain_error, ids, queues
from orchestration.connect import signal_if_running
from orchestration.message import Delivery, OutboxMessage

WORKFLOW = "IdentityVerification"
ENTITY_TYPE = "identity_verification"
SEND_CODE_SIGNAL = "send_code"
FINISHED_SIGNAL = "finished"
GOVERNMENT_ID_UPDATE = "government_id"


class IdentityVerificationInput(BaseModel):
    verification_id: uuid.UUID
    firm_id: uuid.UUID
    expires_at: datetime


class VerificationRef(BaseModel):
    verification_id: uuid.UUID
    firm_id: uuid.UUID


class CodeRef(BaseModel):
    code_id: uuid.UUID
    firm_id: uuid.UUID


class InquiryLink(BaseModel):
    persona_inquiry_url: str
    expires_at: datetime


def workflow_input(verification: IdentityVerification) -> IdentityVerificationInput:
    return IdentityVerificationInput(verification_id=verification.id, firm_id=verification.firm_id,
                                     expires_at=verification.expires_at)


async def _start(client: Client, verification: IdentityVerification) -> None:
    await client.start_workflow(WORKFLOW, workflow_input(verification), id=ids.identity_verification(verification.id),
                                task_queue=queues.IDENTITY, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)


async def government_id(client: Client, verification: IdentityVerification) -> InquiryLink:
    """The Persona inquiry's link (created by the workflow's activity, once per inquiry)."""
    handle = client.get_workflow_handle(ids.identity_verification(verification.id))
    try:
        try:
            return await handle.execute_update(GOVERNMENT_ID_UPDATE, result_type=InquiryLink)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            await _start(client, verification)
            return await handle.execute_update(GOVERNMENT_ID_UPDATE, result_type=InquiryLink)
    except WorkflowUpdateFailedError as err:
        refusal = domain_error.from_failure(err)
        if refusal is None:
            raise
        raise refusal from None


# ---- outbox messages -----------------------------------------------------------------------------------------

START = "identity_verification.start"
SEND_CODE = "identity_verification.send_code"
FINISHED = "identity_verification.finished"


def started(verification: IdentityVerification) -> OutboxMessage:
    return OutboxMessage(START, ENTITY_TYPE, str(verification.id))


def send_code(verification_id: uuid.UUID, code_id: uuid.UUID) -> OutboxMessage:
    return OutboxMessage(SEND_CODE, ENTITY_TYPE, str(verification_id), {"code_id": str(code_id)})


def finished(verification_id: uuid.UUID) -> OutboxMessage:
    return OutboxMessage(FINISHED, ENTITY_TYPE, str(verification_id))


async def _load(delivery: Delivery, entity_id: str) -> IdentityVerification | None:
    return await delivery.session.get(IdentityVerification, uuid.UUID(entity_id))


async def _deliver_start(delivery: Delivery, entity_id: str, payload: dict) -> None:
    verification = await _load(delivery, entity_id)
    if verification is not None:
        await _start(delivery.temporal, verification)


async def _deliver_send_code(delivery: Delivery, entity_id: str, payload: dict) -> None:
    """Signal-with-start: the code is sent even if the start message is still on its way. A repeat is ignored by
    the workflow (and the activity sends a code once)."""
    verification = await _load(delivery, entity_id)
    if verification is None:
        return
    await delivery.temporal.start_workflow(
        WORKFLOW, workflow_input(verification), id=ids.identity_verification(verification.id),
        task_queue=queues.IDENTITY, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        start_signal=SEND_CODE_SIGNAL, start_signal_args=[payload["code_id"]])


async def _deliver_finished(delivery: Delivery, entity_id: str, payload: dict) -> None:
    await signal_if_running(delivery.temporal, ids.identity_verification(uuid.UUID(entity_id)), FINISHED_SIGNAL, None)


HANDLERS = {START: _deliver_start, SEND_CODE: _deliver_send_code, FINISHED: _deliver_finished}
