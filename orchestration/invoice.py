"""The invoice's workflow (InvoiceWorkflow, `invoice:<uuid>`, once the invoice is sent): its contract and its
typed client.

- `send`: an Update through update-with-start, because the caller needs the payment link. The caller waits up
  to SEND_WAIT_S; past that the workflow keeps going and `send` answers None (the API says 202).
- `void`: the one signal sent *before* the commit (the outbox's named exception): the workflow is what closes a
  sent invoice's payment link, so a void it cannot hear of must roll back rather than leave the invoice payable.
- `invoice.event` (outbox): a payment recorded (by the Stripe webhook or by staff) or a failed payment. The
  workflow ignores a repeated event id, and re-reads the invoice on every event.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from orchestration import ids, queues
from orchestration.connect import signal_if_running
from orchestration.update_with_start import update_with_start
from orchestration.message import Delivery, OutboxMessage

WORKFLOW = "Invoice"
SEND_UPDATE = "send"
EVENT_SIGNAL = "event"
ENTITY_TYPE = "invoice"
EVENT = "invoice.event"  # payload: InvoiceEvent
# How long POST …/send waits for the payment link before answering 202.
SEND_WAIT_S = 15.0


class InvoiceWorkflowInput(BaseModel):
    invoice_id: uuid.UUID
    firm_id: uuid.UUID
    client_id: uuid.UUID
    reminder_time: str = "14:00:00"  # UTC time of day for reminders (settings.reminder_time_utc)
    due_days: int = 30  # due date of an invoice sent without one


class InvoiceEvent(BaseModel):
    kind: Literal["payment_recorded", "payment_failed", "voided"]
    event_id: str | None = None  # the Stripe event id, to ignore a repeat
    message: str | None = None


class SendResult(BaseModel):
    invoice_id: uuid.UUID
    invoice_number: str
    status: str
    sent_at: datetime
    payment_link: str
    due_date: date


async def send(client: Client, invoice, reminder_time: str, due_days: int) -> SendResult | None:
    """Start the invoice's workflow if needed and ask it to send; None when the payment link takes longer than
    SEND_WAIT_S (the workflow keeps trying). A refusal comes back as the DomainError the workflow raised."""
    start = WithStartWorkflowOperation(
        WORKFLOW, InvoiceWorkflowInput(invoice_id=invoice.id, firm_id=invoice.firm_id, client_id=invoice.client_id,
                                       reminder_time=reminder_time, due_days=due_days),
        id=ids.invoice(invoice.id), task_queue=queues.BILLING,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
    return await update_with_start(client, start, SEND_UPDATE, SendResult, SEND_WAIT_S,
                                   "The invoice cannot be sent", "invoice_not_sendable")


async def _signal(client: Client, invoice_id: uuid.UUID, event: InvoiceEvent) -> bool:
    """Tell an invoice's workflow; False when none runs (a draft, or an invoice whose workflow has ended)."""
    return await signal_if_running(client, ids.invoice(invoice_id), EVENT_SIGNAL, event)


async def void(client: Client, invoice_id: uuid.UUID) -> None:
    """Before the commit, with the invoice's row locked: an error here (503 when Temporal is out of reach) rolls
    the void back."""
    await _signal(client, invoice_id, InvoiceEvent(kind="voided"))


def event(invoice_id: uuid.UUID, kind: str, event_id: str | None = None, message: str | None = None) -> OutboxMessage:
    return OutboxMessage(EVENT, ENTITY_TYPE, str(invoice_id),
                         InvoiceEvent(kind=kind, event_id=event_id, message=message).model_dump(mode="json"))


async def _deliver_event(delivery: Delivery, entity_id: str, payload: dict) -> None:
    await _signal(delivery.temporal, uuid.UUID(entity_id), InvoiceEvent.model_validate(payload))


HANDLERS = {EVENT: _deliver_event}
