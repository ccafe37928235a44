"""The estimated-payment schedule's workflow (EstimatedPaymentScheduleWorkflow,
`estimated-payment-schedule:<uuid>`): its contract and its outbox message.

Every change to a schedule (create, update, confirm, cancel) is committed with a `estimated_payment_schedule.changed`
message; its delivery signals `changed` with signal-with-start, so the workflow re-reads the committed quarters and
re-plans, and is started again if it had finished.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from orchestration import ids, queues
from orchestration.message import Delivery, OutboxMessage

WORKFLOW = "EstimatedPaymentSchedule"
CHANGED_SIGNAL = "changed"
ENTITY_TYPE = "estimated_payment_schedule"
CHANGED = "estimated_payment_schedule.changed"  # payload: ScheduleWorkflowInput


class ScheduleWorkflowInput(BaseModel):
    schedule_id: uuid.UUID
    firm_id: uuid.UUID
    client_id: uuid.UUID
    reminder_time: str = "14:00:00"  # UTC time of day (settings.reminder_time_utc)
    # Reminders already handled, carried across continue-as-new: "<payment id>/<type>/<instant iso>".
    handled: list[str] = []


class PlannedReminder(BaseModel):
    """A reminder the workflow will send (its `next_reminder` query answers with one)."""

    payment_id: uuid.UUID
    reminder_type: str
    scheduled_for: datetime  # the calendar instant; also the reminder's idempotency key
    fire_at: datetime  # when to send: the instant, or now if it passed while still worth sending

    @property
    def key(self) -> str:
        return f"{self.payment_id}/{self.reminder_type}/{self.scheduled_for.isoformat()}"


def workflow_input(schedule, reminder_time: str) -> ScheduleWorkflowInput:
    return ScheduleWorkflowInput(schedule_id=schedule.id, firm_id=schedule.firm_id, client_id=schedule.client_id,
                                 reminder_time=reminder_time)


def changed(schedule, reminder_time: str) -> OutboxMessage:
    return OutboxMessage(CHANGED, ENTITY_TYPE, str(schedule.id),
                         workflow_input(schedule, reminder_time).model_dump(mode="json"))


async def _deliver_changed(delivery: Delivery, entity_id: str, payload: dict) -> None:
    data = ScheduleWorkflowInput.model_validate(payload)
    await delivery.temporal.start_workflow(
        WORKFLOW, data, id=ids.estimated_payment_schedule(data.schedule_id), task_queue=queues.BILLING,
        start_signal=CHANGED_SIGNAL)


HANDLERS = {CHANGED: _deliver_changed}
