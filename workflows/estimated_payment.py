"""EstimatedPaymentScheduleWorkflow: one per schedule (`estimated-payment-schedule:<uuid>`), on the billing queue.

It sleeps on durable timers until the next reminder of a scheduled quarter (14 days before its due date and on the
due date, at the configured UTC time of day), sends it, and goes back to sleep. The API writes every change
(amounts, due dates, confirmations, cancellations) to Postgres and then signals `changed` with signal-with-start,
so the workflow re-reads the quarters and re-plans, and is started again if it had finished. The signal goes
through the outbox (orchestration/estimated_payment.py), so a change committed while Temporal was unreachable still reaches the workflow (or
starts it) a little later. A reminder whose time passed while the quarter is still before its due date is sent at
once (a schedule created 10 days before a due date still gets its "14 days" reminder); after the due date, nothing
is sent for that quarter. The workflow ends when no reminder is left to send.
"""

import asyncio
from datetime import datetime, time, timedelta, timezone

from temporalio import workflow

# Passed through, not re-imported into each workflow run's sandbox (pydantic with them: the schedule benchmark
# settled 10.2 instead of 7.2 workflows/s with it passed through, on a busy machine). The workflow's models live
# in those modules too, so no sandbox builds a pydantic model class again (~1.3 ms each).
with workflow.unsafe.imports_passed_through():
    from activities.estimated_payment import (
        EstimatedPaymentActivities, ReminderInput, ScheduleRef, ScheduleSnapshot,
    )
    from domain.estimated_payment.service import REMINDER_TYPES, reminder_deadline, reminder_instant
    from orchestration import search_attributes as sa
    from orchestration.estimated_payment import CHANGED_SIGNAL, WORKFLOW, PlannedReminder, ScheduleWorkflowInput
    from orchestration.retry import ACTIVITY_TIMEOUT, PATIENT

# Search attributes are upserted only when they change; histories from before replay their every upsert.
PUBLISH_CHANGES_PATCH = "estimated-payment-schedule-publish-changes"
# One activity per reminder (`remind` answers with the schedule as it is after it); histories from before send
# with `send_reminder` and then re-read the schedule with `load_schedule`.
ONE_ACTIVITY_PER_REMINDER_PATCH = "estimated-payment-schedule-one-activity-per-reminder"


def plan(snapshot: ScheduleSnapshot, time_of_day: time, now: datetime, handled: set[str]) -> list[PlannedReminder]:
    """Reminders still to send for the scheduled quarters, soonest first."""
    planned = []
    if snapshot.status != "active":
        return planned
    for quarter in snapshot.quarters:
        if quarter.status != "scheduled":
            continue
        for kind in REMINDER_TYPES:
            instant = reminder_instant(quarter.due_date, kind, time_of_day)
            reminder = PlannedReminder(payment_id=quarter.payment_id, reminder_type=kind, scheduled_for=instant,
                                       fire_at=max(instant, now))
            if reminder.key not in handled and now < reminder_deadline(quarter.due_date):
                planned.append(reminder)
    return sorted(planned, key=lambda r: (r.fire_at, r.scheduled_for))


@workflow.defn(name=WORKFLOW)
class EstimatedPaymentScheduleWorkflow:
    def __init__(self) -> None:
        self._changed = True
        self._status = "active"
        self._next: PlannedReminder | None = None
        self._sent = 0
        self._search_attributes = sa.Publisher(PUBLISH_CHANGES_PATCH)

    @workflow.run
    async def run(self, data: ScheduleWorkflowInput) -> int:
        handled = set(data.handled)
        time_of_day = time.fromisoformat(data.reminder_time)
        self._search_attributes.publish({sa.ENTITY_TYPE: "estimated_payment_schedule",
                                         sa.CLIENT_ID: str(data.client_id), sa.FIRM_ID: str(data.firm_id)})
        ref = ScheduleRef(schedule_id=data.schedule_id)
        snapshot = ScheduleSnapshot(status="active")
        while True:
            if self._changed:
                self._changed = False
                snapshot = await workflow.execute_activity_method(
                    EstimatedPaymentActivities.load_schedule, ref, start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=PATIENT)
            upcoming = plan(snapshot, time_of_day, workflow.now(), handled)
            self._publish(snapshot, upcoming)
            if not upcoming:
                break
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(data.model_copy(update={"handled": sorted(handled)}))
            reminder = upcoming[0]
            try:
                await workflow.wait_condition(lambda: self._changed,
                                              timeout=max(reminder.fire_at - workflow.now(), timedelta(0)))
                continue  # something changed: re-read and re-plan before sending anything
            except asyncio.TimeoutError:
                pass
            due = ReminderInput(payment_id=reminder.payment_id, reminder_type=reminder.reminder_type,
                                scheduled_for=reminder.scheduled_for)
            if workflow.patched(ONE_ACTIVITY_PER_REMINDER_PATCH):
                # The schedule as the reminder's transaction left it: a change committed after that signals
                # `changed` (through the outbox), so the next pass re-reads it then.
                reminded = await workflow.execute_activity_method(
                    EstimatedPaymentActivities.remind, due, start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=PATIENT)
                sent, snapshot = reminded.sent, reminded.snapshot
            else:
                sent = await workflow.execute_activity_method(
                    EstimatedPaymentActivities.send_reminder, due, start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=PATIENT)
                # The quarter may have been paid meanwhile; the next pass sees its status.
                self._changed = True
            self._sent += int(sent)
            handled.add(reminder.key)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._sent

    @workflow.signal(name=CHANGED_SIGNAL)
    def changed(self) -> None:
        self._changed = True

    @workflow.query(name="next_reminder")
    def next_reminder(self) -> PlannedReminder | None:
        return self._next

    def _publish(self, snapshot: ScheduleSnapshot, upcoming: list[PlannedReminder]) -> None:
        self._next = upcoming[0] if upcoming else None
        scheduled = [q for q in snapshot.quarters if q.status == "scheduled"]
        status = snapshot.status if snapshot.status != "active" else ("active" if upcoming else "completed")
        updates = {sa.ENTITY_STATUS: status}
        if snapshot.tax_year:
            updates[sa.TAX_YEAR] = snapshot.tax_year
        updates[sa.NEXT_REMINDER_AT] = self._next.fire_at if self._next else None
        next_due = min((q.due_date for q in scheduled if q.due_date >= workflow.now().date()), default=None)
        updates[sa.DUE_DATE] = datetime.combine(next_due, time(0), tzinfo=timezone.utc) if next_due else None
        self._search_attributes.publish(updates)
