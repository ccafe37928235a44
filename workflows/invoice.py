"""InvoiceWorkflow: one per invoice once it is sent (`invoice:<uuid>`), on the billing queue.

The API asks it to `send` (an Update, through update-with-start: the caller needs the payment link). It then
waits for payment on durable timers: overdue once the due date has passed, reminders 7, 14 and 30 days after
it, escalation to the firm at 45 days. Payments are recorded in Postgres by the webhook (or by staff) in the
transaction that receives them; the workflow hears about them through the `event` signal and stops when the
invoice is paid or voided. Every step re-reads the invoice, so a lost signal costs at most a reminder that is
then not sent, never one sent for a paid invoice.

History stays small (a handful of timers and activities per invoice), so no continue-as-new is needed.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from typing import Literal

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

# Passed through, not re-imported into each workflow run's sandbox (pydantic included: the schedule
# benchmark settled 10.2 instead of 7.2 workflows/s with it passed through, on a busy machine).
with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.invoice import (
        InvoiceActivities, InvoiceRef, MarkSentInput, PaymentFailedInput, SendResult, StepInput,
    )
    from domain.invoice.timeline import invoice_timeline, parse_time_of_day
    from workflows import search_attributes as sa
    from workflows.retry import ACTIVITY_TIMEOUT, PATIENT

EVENT_SIGNAL = "event"
CLOSED = ("paid", "void")


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


@workflow.defn(name="Invoice")
class InvoiceWorkflow:
    # @workflow.init: the input is there before the first update runs (update-with-start delivers both in
    # the first workflow task, and the update handler can run before `run` has started).
    @workflow.init
    def __init__(self, data: InvoiceWorkflowInput) -> None:
        self._input = data
        self._sent: SendResult | None = None
        self._send_failed = False
        self._send_lock = asyncio.Lock()
        self._status = "draft"
        self._events: list[InvoiceEvent] = []
        self._seen_event_ids: set[str] = set()

    @workflow.run
    async def run(self, data: InvoiceWorkflowInput) -> str:
        workflow.upsert_search_attributes([
            sa.ENTITY_TYPE.value_set("invoice"), sa.ENTITY_STATUS.value_set("draft"),
            sa.CLIENT_ID.value_set(str(data.client_id)), sa.FIRM_ID.value_set(str(data.firm_id))])
        await workflow.wait_condition(lambda: self._sent is not None or self._send_failed)
        if self._sent is None:
            await workflow.wait_condition(workflow.all_handlers_finished)
            return "draft"
        ref = InvoiceRef(invoice_id=data.invoice_id)
        workflow.upsert_search_attributes([
            sa.ENTITY_STATUS.value_set(self._status),
            sa.DUE_DATE.value_set(datetime.combine(self._sent.due_date, datetime.min.time(), tzinfo=timezone.utc))])
        await workflow.execute_activity_method(InvoiceActivities.mail_invoice, ref,
                                               start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=PATIENT)

        for when, step in invoice_timeline(self._sent.due_date, parse_time_of_day(data.reminder_time)):
            if not await self._wait_until(when):
                break
            self._set_status(await workflow.execute_activity_method(
                InvoiceActivities.apply_step, StepInput(invoice_id=data.invoice_id, step=step),
                start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=PATIENT))
            if self._status in CLOSED:
                break
        else:
            await self._wait_until(None)  # escalated: the firm decides; keep listening for payment or void

        if self._status == "void":
            await workflow.execute_activity_method(InvoiceActivities.expire_payment_link, ref,
                                                   start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=PATIENT)
        workflow.upsert_search_attributes([sa.NEXT_REMINDER_AT.value_unset()])
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status

    @workflow.update(name="send")
    async def send(self) -> SendResult:
        """Create the payment link and mark the invoice sent; a repeated send returns the first result."""
        async with self._send_lock:
            if self._sent is None:
                try:
                    self._sent = await self._send()
                except ActivityError as err:
                    self._send_failed = True
                    cause = err.cause
                    if isinstance(cause, ApplicationError):
                        raise ApplicationError(cause.message, type=cause.type, non_retryable=True) from None
                    raise ApplicationError(str(err), type="SendFailed", non_retryable=True) from None
        return self._sent

    async def _send(self) -> SendResult:
        ref = InvoiceRef(invoice_id=self._input.invoice_id)
        while True:
            link = await workflow.execute_activity_method(InvoiceActivities.create_payment_link, ref,
                                                          start_to_close_timeout=ACTIVITY_TIMEOUT,
                                                          retry_policy=PATIENT)
            result = await workflow.execute_activity_method(
                InvoiceActivities.mark_sent,
                MarkSentInput(invoice_id=ref.invoice_id, link=link, sent_at=workflow.now(),
                              due_days=self._input.due_days),
                start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=PATIENT)
            if result is not None:
                self._set_status(result.status)
                return result
            # The draft was edited while its link was being made: make one for what it bills now.

    @send.validator
    def _validate_send(self) -> None:
        if self._status in CLOSED:
            raise ApplicationError(f"invoice is {self._status}", type="InvoiceNotSendable")

    @workflow.signal(name=EVENT_SIGNAL)
    def event(self, event: InvoiceEvent) -> None:
        if event.event_id is not None:
            if event.event_id in self._seen_event_ids:
                return
            self._seen_event_ids.add(event.event_id)
        self._events.append(event)

    @workflow.query(name="status")
    def status(self) -> str:
        return self._status

    async def _wait_until(self, when: datetime | None) -> bool:
        """Sleep until `when` (None: for ever) while handling events. False once the invoice is paid or void."""
        while True:
            await self._handle_events()
            if self._status in CLOSED:
                return False
            if when is None:
                workflow.upsert_search_attributes([sa.NEXT_REMINDER_AT.value_unset()])
                await workflow.wait_condition(lambda: bool(self._events))
                continue
            remaining = when - workflow.now()
            if remaining <= timedelta(0):
                return True
            workflow.upsert_search_attributes([sa.NEXT_REMINDER_AT.value_set(when)])
            try:
                await workflow.wait_condition(lambda: bool(self._events), timeout=remaining)
            except asyncio.TimeoutError:
                return True

    async def _handle_events(self) -> None:
        while self._events:
            event = self._events.pop(0)
            if event.kind == "voided":
                self._set_status("void")
            elif event.kind == "payment_failed":
                await workflow.execute_activity_method(
                    InvoiceActivities.notify_payment_failed,
                    PaymentFailedInput(invoice_id=self._input.invoice_id, message=event.message),
                    start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=PATIENT)
            else:
                self._set_status(await workflow.execute_activity_method(
                    InvoiceActivities.current_status, InvoiceRef(invoice_id=self._input.invoice_id),
                    start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=PATIENT))

    def _set_status(self, status: str) -> None:
        if status != self._status:
            self._status = status
            workflow.upsert_search_attributes([sa.ENTITY_STATUS.value_set(status)])


async def signal_invoice(client, invoice_id: uuid.UUID, event: InvoiceEvent) -> bool:
    """Tell an invoice's workflow; False when none runs (a draft, or an invoice whose workflow has ended)."""
    from temporalio.service import RPCError, RPCStatusCode

    from workflows import ids

    try:
        await client.get_workflow_handle(ids.invoice(invoice_id)).signal(EVENT_SIGNAL, event)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True
