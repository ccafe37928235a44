"""The e-file transmission's workflow (EfileTransmissionWorkflow, `efile-transmission:<uuid>`, queue `efile`):
its contract, its outbox messages and their delivery.

Outbox kinds: `efile_transmission.start` (a transmission committed: start its workflow once),
`efile_transmission.acknowledged` (the e-file webhook recorded the acknowledgement: wake the workflow, which
otherwise finds it by polling), `efile_transmission.resolved` (a rejected transmission was resubmitted: its
workflow stops escalating and counting the perfection period).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from orchestration import ids, queues
from orchestration.connect import signal_if_running
from orchestration.message import Delivery, OutboxMessage

WORKFLOW = "EfileTransmission"
ENTITY_TYPE = "efile_transmission"
ACKNOWLEDGED_SIGNAL = "acknowledged"
FEDERAL_OUTCOME_SIGNAL = "federal_outcome"
RESOLVED_SIGNAL = "resolved"


class EfileTransmissionInput(BaseModel):
    transmission_id: uuid.UUID
    firm_id: uuid.UUID
    return_id: uuid.UUID
    jurisdiction: str
    return_type: str
    # Polling for the acknowledgement when no webhook brings it: the first wait, doubled up to the cap.
    poll_initial_s: float = 5.0
    poll_max_s: float = 600.0


# ---- activity payloads ---------------------------------------------------------------------------------------

class TransmissionRef(BaseModel):
    transmission_id: uuid.UUID
    firm_id: uuid.UUID


class Submitted(BaseModel):
    submission_id: str
    attempts: int


class AckOutcome(BaseModel):
    status: str  # pending | accepted | rejected
    category: str | None = None  # of the first rejection


class RejectionFacts(BaseModel):
    category: str
    rejected_at: datetime
    perfection_deadline: datetime  # the end of the deadline's day (UTC)
    superseded: bool = False


# ---- calls ---------------------------------------------------------------------------------------------------

async def tell_federal_outcome(client: Client, state_transmission_id: uuid.UUID, outcome: str) -> bool:
    return await signal_if_running(client, ids.efile_transmission(state_transmission_id), FEDERAL_OUTCOME_SIGNAL,
                                   outcome)


# ---- outbox messages -----------------------------------------------------------------------------------------

START = "efile_transmission.start"
ACKNOWLEDGED = "efile_transmission.acknowledged"
RESOLVED = "efile_transmission.resolved"


def started(data: EfileTransmissionInput) -> OutboxMessage:
    return OutboxMessage(START, ENTITY_TYPE, str(data.transmission_id), data.model_dump(mode="json"))


def acknowledged(transmission_id: uuid.UUID, submission_id: str) -> OutboxMessage:
    return OutboxMessage(ACKNOWLEDGED, ENTITY_TYPE, str(transmission_id), {"submission_id": submission_id})


def resolved(transmission_id: uuid.UUID) -> OutboxMessage:
    return OutboxMessage(RESOLVED, ENTITY_TYPE, str(transmission_id))


async def _deliver_start(delivery: Delivery, entity_id: str, payload: dict) -> None:
    data = EfileTransmissionInput.model_validate(payload)
    try:
        await delivery.temporal.start_workflow(
            WORKFLOW, data, id=ids.efile_transmission(data.transmission_id), task_queue=queues.EFILE,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
    except WorkflowAlreadyStartedError:
        pass  # a repeat: one workflow per transmission, ever


async def _deliver_acknowledged(delivery: Delivery, entity_id: str, payload: dict) -> None:
    await signal_if_running(delivery.temporal, ids.efile_transmission(uuid.UUID(entity_id)), ACKNOWLEDGED_SIGNAL,
                            payload["submission_id"])


async def _deliver_resolved(delivery: Delivery, entity_id: str, payload: dict) -> None:
    await signal_if_running(delivery.temporal, ids.efile_transmission(uuid.UUID(entity_id)), RESOLVED_SIGNAL, None)


HANDLERS = {START: _deliver_start, ACKNOWLEDGED: _deliver_acknowledged, RESOLVED: _deliver_resolved}
