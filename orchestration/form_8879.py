"""The workflow of a return's Form 8879 sent for e-signature (Form8879Workflow, `form-8879:<return uuid>`): its
typed client. The return itself moves through its own workflow's system events: `send_for_signature` once the
form is with the signer, `signature_received` once it is signed (api/v1/form_8879.py, api/v1/webhook.py)."""

from __future__ import annotations

import uuid

from temporalio.client import Client

from orchestration import ids
from orchestration import tax_return as return_workflow
from orchestration.message import Delivery, OutboxMessage
from orchestration.signing import SendResult, SigningInput, signal_event
from orchestration.signing import send as send_for_signature

WORKFLOW = "Form8879"
ENTITY_TYPE = "form_8879"
EVENT = "form_8879.event"  # payload: SignatureEvent
SOURCE = "esign"  # the return's system events name this capability


async def send(client: Client, tax_return) -> SendResult | None:
    return await send_for_signature(client, WORKFLOW, ids.form_8879(tax_return.id), SigningInput(
        subject_type="form_8879", subject_id=tax_return.id, firm_id=tax_return.firm_id,
        client_id=tax_return.client_id))


def event(return_id: uuid.UUID, kind: str) -> OutboxMessage:
    return OutboxMessage(EVENT, ENTITY_TYPE, str(return_id), {"kind": kind})


def return_event(return_id: uuid.UUID, action: str) -> OutboxMessage:
    """`send_for_signature` / `signature_received` for the return's workflow, from the system actor."""
    return return_workflow.system_event(uuid.UUID(str(return_id)), return_workflow.TaxReturnSystemEvent(
        action=action, source=SOURCE, notes="Form 8879 through the e-signature provider"))


async def _deliver_event(delivery: Delivery, entity_id: str, payload: dict) -> None:
    await signal_event(delivery.temporal, ids.form_8879(uuid.UUID(entity_id)), payload)


HANDLERS = {EVENT: _deliver_event}
