"""InvoiceWorkflow: one per invoice once it is sent (`invoice:<uuid>`), on the billing queue.

The API asks it to `send` (an Update, through update-with-start: the caller needs the payment link). It then
waits for payment on durable timers: overdue once the due date has passed, reminders 7, 14 and 30 days after
it, escalation to the firm at 45 days. Payments are recorded in Postgres by the webhook (or by staff) in the
transaction that receives them; the workflow hears about them through the `event` signal and stops when the
invoice is paid or voided. Every step re-reads the invoice, so a lost signal costs at most a reminder that is
then not sent, never one sent for a paid invoice.

History stays small (a handful of timers and activities per invoice), so no continue-as-new is needed.
"""

import asyncio
from datetime import datetime, timedelta, timezone

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

# Passed through, not re-imported into each workflow run's sandbox (pydantic included: the schedule
# benchmark settled 10.2 instead of 7.2 workflows/s with it passed through, on a busy machine).
with workflow.unsafe.imports_passed_through():
    from activities.invoice import InvoiceActivities, InvoiceRef, MarkSentInput, PaymentFailedInput, StepInput
    from domain.errors import BusinessRuleViolation, DomainError
    from domain.invoice.timeline import invoice_timeline, parse_time_of_day
    from orchestration import domain_error
    from orchestration import search_attributes as sa
    from orchestration.invoice import (
        EVENT_SIGNAL, SEND_UPDATE, WORKFLOW, InvoiceEvent, InvoiceWorkflowInput, SendResult,
    )
    from orchestration.retry import ACTIVITY_TIMEOUT, PATIENT

CLOSED = ("paid", "void")
# Search attributes are upserted only when they change; histories from before replay their every upsert.
PUBLISH_CHANGES_PATCH = "invoice-publish-changes"


@workflow.defn(name=WORKFLOW)
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
        self._search_attributes = sa.Publisher(PUBLISH_CHANGES_PATCH)

    @workflow.run
    async def run(self, data: InvoiceWorkflowInput) -> str:
        self._search_attributes.publish({sa.ENTITY_TYPE: "invoice", sa.ENTITY_STATUS: "draft",
                                         sa.CLIENT_ID: str(data.client_id), sa.FIRM_ID: str(data.firm_id)})
        await workflow.wait_condition(lambda: self._sent is not None or self._send_failed)
        if self._sent is None:
            await workflow.wait_condition(workflow.all_handlers_finished)
            return "draft"
        ref = InvoiceRef(invoice_id=data.invoice_id)
        self._search_attributes.publish({
            sa.ENTITY_STATUS: self._status,
            sa.DUE_DATE: datetime.combine(self._sent.due_date, datetime.min.time(), tzinfo=timezone.utc)})
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
        self._search_attributes.publish({sa.NEXT_REMINDER_AT: None})
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status

    @workflow.update(name=SEND_UPDATE)
    async def send(self) -> SendResult:
        """Create the payment link and mark the invoice sent; a repeated send returns the first result."""
        async with self._send_lock:
            if self._sent is None:
                try:
                    self._sent = await self._send()
                except ActivityError as err:
                    self._send_failed = True
                    raise domain_error.as_failure(_send_refusal(err)) from None
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
            raise domain_error.as_failure(_not_sendable(f"invoice is {self._status}"))

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
                self._search_attributes.publish({sa.NEXT_REMINDER_AT: None})
                await workflow.wait_condition(lambda: bool(self._events))
                continue
            remaining = when - workflow.now()
            if remaining <= timedelta(0):
                return True
            self._search_attributes.publish({sa.NEXT_REMINDER_AT: when})
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
            self._search_attributes.publish({sa.ENTITY_STATUS: status})


def _not_sendable(reason: str) -> DomainError:
    return BusinessRuleViolation(f"The invoice cannot be sent: {reason}", code="invoice_not_sendable")


def _send_refusal(err: ActivityError) -> DomainError:
    """Why the send failed, as the caller's answer: the refusal the activity carried (the payment provider's,
    a 502; the invoice's, a 422), or any other failure as the invoice's."""
    refusal = domain_error.from_failure(err)
    if refusal is not None:
        return refusal
    cause = err.cause
    return _not_sendable(cause.message if isinstance(cause, ApplicationError) else str(err))
