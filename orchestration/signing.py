"""What the workflows of documents sent for signature share (ConsentWorkflow, EngagementWorkflow): their input,
the answer of `send`, the events they hear, and the update-with-start that sends.

- `send`: an Update through update-with-start (the caller needs the request's id and time). The caller waits up
  to SEND_WAIT_S; past that the workflow keeps trying and `send` answers None (the API says 202).
- `<subject>.event` (outbox): signed or declined (from the provider's callback, after the row changed), revoked
  (a consent, after the row changed). The workflow re-reads the row, so a repeated event changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from orchestration import queues
from orchestration.connect import signal_if_running
from orchestration.update_with_start import update_with_start

SEND_UPDATE = "send"
EVENT_SIGNAL = "event"
SEND_WAIT_S = 15.0


class SigningInput(BaseModel):
    subject_type: Literal["consent", "engagement", "form_8879"]
    subject_id: uuid.UUID
    firm_id: uuid.UUID
    client_id: uuid.UUID
    # An engagement letter expires this many days after it is sent (settings.engagement_signature_days).
    signature_days: int = 30


class SendResult(BaseModel):
    signature_request_id: uuid.UUID
    # The subject's status once sent: sent (consent), pending_signature (engagement), the return's (Form 8879).
    status: str
    sent_at: datetime


class SignatureEvent(BaseModel):
    kind: Literal["signed", "declined", "revoked"]


async def send(client: Client, workflow: str, workflow_id: str, data: SigningInput) -> SendResult | None:
    start = WithStartWorkflowOperation(workflow, data, id=workflow_id, task_queue=queues.SIGNATURES,
                                       id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
    return await update_with_start(client, start, SEND_UPDATE, SendResult, SEND_WAIT_S,
                                   "The document cannot be sent", f"{data.subject_type}_not_sendable")


async def signal_event(client: Client, workflow_id: str, payload: dict) -> None:
    await signal_if_running(client, workflow_id, EVENT_SIGNAL, SignatureEvent.model_validate(payload))
