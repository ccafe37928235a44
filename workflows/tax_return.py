"""TaxReturnWorkflow: one durable workflow per return (id `tax-return:<uuid>`), the only writer of its status.

- `transition` (Update): staff and the service identity move the return. The validator refuses a wrong
  role (403), a wrong from-status or a transition already in flight (409) and a failed guard (422) before
  anything is recorded; the handler writes status + history row + audit row through one idempotent
  activity and answers with the spec §5.6 body.
- `system_event` (Signal): other capabilities report events; a System
  action the state machine allows from the current status is applied, anything else is logged and dropped.
- `return_changed` (Signal): the API reports a new assignee, a moved deadline (extension) or a deletion.
- `analyze` (Signal): run an analysis requested through the API.
- Timers: reminders to the assignee before the deadline, the stuck flag once a status's time budget is
  spent, escalation to needs_review after a second budget; search attributes for Temporal UI.
- Continue-as-new when the history grows long, carrying the state.
"""

import asyncio
from datetime import date, datetime, time, timedelta, timezone

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.tax_return import ReminderRequest, StuckMark, TaxReturnActivities, TransitionRecord
    from domain.errors import Conflict, DomainError
    from domain.roles import Role
    from domain.tax_return import state_machine as sm
    from orchestration import search_attributes as sa
    from orchestration.domain_error import as_failure as refusal
    from orchestration.tax_return import (
        ANALYZE_SIGNAL, RETURN_CHANGED_SIGNAL, SYSTEM_EVENT_SIGNAL, TRANSITION_UPDATE, WORKFLOW, AnalyzeInput,
        ReturnChanged, TaxReturnState, TaxReturnSystemEvent, TaxReturnWorkflowInput, TransitionRequest,
        TransitionResult,
    )

# Reminder mails go out at 14:00 UTC (morning in every US time zone) on their day.
REMINDER_TIME = time(14, 0, tzinfo=timezone.utc)
# Workflow code versions (workflow.patched): histories written before a patch replay the old branch.
# LEAN_TRANSITION_PATCH: a transition upserts only the search attributes that changed and keeps the run
# loop's timer when the next wake moved later (on the dev server an upsert cost about as much as a whole Update).
LEAN_TRANSITION_PATCH = "tax-return-lean-transition"
# TIMER_HORIZON_PATCH: the run loop's timer is armed at most TIMER_HORIZON ahead, the shortest time budget of a
# status a return stays in for days (approved, ready_to_file). A transition then never brings the next wake before
# the armed timer (every budget it can enter is at least as long, but ai_analysis's hour), so it neither cancels nor
# starts one: 7 history events a transition instead of 9, and no timer task on the server. The price is an idle
# return waking every 2 days to find nothing due and re-arm (5 events; 10,000 open returns: 5,000 small workflow
# tasks a day, against the 10,000s of transitions of a season's day).
TIMER_HORIZON_PATCH = "tax-return-timer-horizon"
TIMER_HORIZON = timedelta(days=2)
# Continue-as-new well before Temporal's 50k-event limit (also when the server suggests it).
HISTORY_EVENT_LIMIT = 10_000

WRITE_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10))


def reminder_at(deadline: date, offset: timedelta) -> datetime:
    return datetime.combine(deadline - offset, REMINDER_TIME)


def reminder_key(deadline: date, offset: timedelta) -> str:
    return f"{deadline.isoformat()}/{offset.days}"


@workflow.defn(name=WORKFLOW)
class TaxReturnWorkflow:
    @workflow.init
    def __init__(self, data: TaxReturnWorkflowInput) -> None:
        self.state = data.state
        self.history_event_limit = data.history_event_limit or HISTORY_EVENT_LIMIT
        self._lock = asyncio.Lock()
        self._in_flight: str | None = None
        self._changed = False
        self._timer: asyncio.Future | None = None  # the run loop's durable timer, due at _timer_at
        self._timer_at: datetime | None = None
        self._search_attributes = sa.Publisher(LEAN_TRANSITION_PATCH)

    # ---- the run loop ---------------------------------------------------------------------------------

    @workflow.run
    async def run(self, data: TaxReturnWorkflowInput) -> str:
        self._publish()
        while True:
            if self.state.deleted or self.state.status in sm.FINAL:
                if self._timer is not None:
                    self._timer.cancel()
                await workflow.wait_condition(workflow.all_handlers_finished)
                return "deleted" if self.state.deleted else self.state.status
            if self._should_continue_as_new():
                await workflow.wait_condition(lambda: workflow.all_handlers_finished() and self._in_flight is None)
                workflow.continue_as_new(TaxReturnWorkflowInput(state=self.state,
                                                                history_event_limit=self.history_event_limit))
            await self._do_due_work()
            self._changed = False
            if workflow.patched(LEAN_TRANSITION_PATCH):
                await self._wait_for_change_or_wake()
            else:
                await self._wait_for_change_or_wake_v1()

    async def _wait_for_change_or_wake(self) -> None:
        """Sleep until something changes or the next due work. The durable timer outlives a change that moves
        the wake later (a transition into a status with a longer budget): it then fires early and the loop
        re-arms it, instead of the transition cancelling and starting a timer on the server. Armed at most
        TIMER_HORIZON ahead (TIMER_HORIZON_PATCH), so a transition into a shorter budget keeps it too."""
        wake_at = self._next_wake()
        if self._timer is not None and (self._timer.done() or wake_at is None or wake_at < self._timer_at):
            self._timer.cancel()  # fired, or no longer wanted, or too late for the new wake
            self._timer = None
        if self._timer is None and wake_at is not None:
            if workflow.patched(TIMER_HORIZON_PATCH):
                wake_at = min(wake_at, workflow.now() + TIMER_HORIZON)
            self._timer_at = wake_at
            self._timer = asyncio.ensure_future(asyncio.sleep(max((wake_at - workflow.now()).total_seconds(), 0.001)))
        await workflow.wait_condition(lambda: self._changed or (self._timer is not None and self._timer.done()))

    async def _wait_for_change_or_wake_v1(self) -> None:
        """Histories recorded before LEAN_TRANSITION_PATCH: a fresh timer on every wake."""
        wake_at = self._next_wake()
        timeout = None if wake_at is None else max((wake_at - workflow.now()).total_seconds(), 0.001)
        try:
            await workflow.wait_condition(lambda: self._changed, timeout=timeout)
        except asyncio.TimeoutError:
            pass

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() >= self.history_event_limit

    async def _do_due_work(self) -> None:
        while self.state.pending_analyses:
            request = self.state.pending_analyses[0]
            await self._analyze(request)
            self.state.pending_analyses.pop(0)
        if self.state.auto_analysis_due:
            await self._auto_analysis()
        await self._send_due_reminders()
        await self._flag_stuck_or_escalate()

    def _next_wake(self) -> datetime | None:
        candidates = []
        reminder = self._next_reminder()
        if reminder is not None:
            candidates.append(reminder[0])
        budget = sm.TIME_BUDGET[sm.Status(self.state.status)]
        if budget is not None:
            if self.state.stuck_since is None:
                candidates.append(self.state.status_entered_at + budget)
            elif self.state.status in sm.sources_of("escalate"):
                candidates.append(self.state.status_entered_at + 2 * budget)
        return min(candidates) if candidates else None

    # ---- transitions ----------------------------------------------------------------------------------

    @workflow.update(name=TRANSITION_UPDATE)
    async def transition(self, request: TransitionRequest) -> TransitionResult:
        async with self._lock:
            # Checked again under the lock: another transition may have moved the return since validation.
            self._check(request)
            return await self._apply(request)

    @transition.validator
    def _validate_transition(self, request: TransitionRequest) -> None:
        if self._in_flight is not None:
            raise refusal(Conflict(f"Another transition ({self._in_flight}) of this return is in progress"))
        self._check(request)
        if request.assigned_preparer_id != self.state.assigned_preparer_id:
            # The guards again with the assignee this workflow knows: nothing is trusted because it arrived
            # through Temporal, and a request naming another preparer must not slip an approval past the
            # not-own-work guard. (In the validator only: it never runs again on replay, so histories recorded
            # before this check replay unchanged.)
            self._check(request.model_copy(update={"assigned_preparer_id": self.state.assigned_preparer_id}))

    def _check(self, request: TransitionRequest) -> None:
        try:
            sm.check(request.action, self.state.status, Role(request.actor_role), sm.GuardFacts(
                actor_id=request.actor_id, assigned_preparer_id=request.assigned_preparer_id,
                pending_questions=request.pending_questions))
        except DomainError as err:
            raise refusal(err) from None
        if self.state.deleted:
            raise refusal(Conflict("The return has been deleted"))

    async def _apply(self, request: TransitionRequest) -> TransitionResult:
        """Record the transition (status, history row, audit row) and move the workflow's state. Callers hold
        the lock and have checked the transition."""
        transition = sm.BY_ACTION[request.action]
        previous, now = self.state.status, workflow.now()
        assign_reviewer = (request.actor_id if request.action == "start_review"
                           and self.state.assigned_reviewer_id is None else None)
        self._in_flight = request.action
        try:
            # A local activity: the write runs inside the workflow task that received the Update, which
            # saves two server round trips per transition. If the worker dies, the task is retried
            # elsewhere with the same transition id, and the activity's insert-if-new keeps one row.
            await workflow.execute_local_activity_method(
                TaxReturnActivities.record_transition,
                TransitionRecord(
                    transition_id=workflow.uuid4(), return_id=self.state.return_id, firm_id=self.state.firm_id,
                    client_id=self.state.client_id, action=request.action, from_status=previous,
                    to_status=transition.target.value, transitioned_at=now, actor_id=request.actor_id,
                    actor_role=request.actor_role, source=request.source, notes=request.notes,
                    assign_reviewer_id=assign_reviewer, request_id=request.request_id,
                    correlation_id=request.correlation_id, ip_address=request.ip_address),
                start_to_close_timeout=timedelta(seconds=10), retry_policy=WRITE_RETRY)
        finally:
            self._in_flight = None
        self.state.status, self.state.status_entered_at, self.state.stuck_since = transition.target.value, now, None
        if assign_reviewer is not None:
            self.state.assigned_reviewer_id = assign_reviewer
        if transition.target == sm.Status.AI_ANALYSIS:
            self.state.auto_analysis_due = True
        self._changed = True
        self._publish()
        return TransitionResult(id=self.state.return_id, status=self.state.status, previous_status=previous,
                                transitioned_at=now)

    async def _apply_system(self, action: str, source: str, notes: str | None) -> bool:
        """A System transition from inside the system: applied when allowed from the current status."""
        async with self._lock:
            transition = sm.BY_ACTION.get(action)
            if transition is None or Role.SYSTEM not in transition.roles:
                workflow.logger.warning("ignored system event %r from %s: not a System action", action, source)
                return False
            if self.state.deleted or self.state.status not in transition.sources:
                workflow.logger.info("ignored system event %r from %s in status %s", action, source, self.state.status)
                return False
            await self._apply(TransitionRequest(action=action, notes=notes, actor_role=Role.SYSTEM.value,
                                                source=source))
            return True

    @workflow.signal(name=SYSTEM_EVENT_SIGNAL)
    async def system_event(self, event: TaxReturnSystemEvent) -> None:
        await self._apply_system(event.action, event.source, event.notes)

    # ---- facts from the API ---------------------------------------------------------------------------

    @workflow.signal(name=RETURN_CHANGED_SIGNAL)
    def return_changed(self, change: ReturnChanged) -> None:
        self.state.assigned_preparer_id = change.assigned_preparer_id
        self.state.assigned_reviewer_id = change.assigned_reviewer_id
        self.state.deadline = change.deadline
        self.state.deleted = self.state.deleted or change.deleted
        self._changed = True
        self._publish()

    @workflow.signal(name=ANALYZE_SIGNAL)
    def analyze(self, request: AnalyzeInput) -> None:
        # Queued once: the outbox relay may deliver a request the API had already sent. (One that already ran
        # is run again, and the analyze activity returns its stored result.)
        if any(queued.analysis_id == request.analysis_id for queued in self.state.pending_analyses):
            return
        self.state.pending_analyses.append(request)
        self._changed = True

    @workflow.query(name="state")
    def current_state(self) -> TaxReturnState:
        return self.state

    # ---- analysis -------------------------------------------------------------------------------------

    async def _analyze(self, request: AnalyzeInput):
        try:
            return await workflow.execute_activity_method(
                TaxReturnActivities.analyze, request, start_to_close_timeout=timedelta(minutes=5),
                retry_policy=RetryPolicy(maximum_attempts=3))
        except ActivityError:
            await workflow.execute_activity_method(TaxReturnActivities.fail_analysis, request,
                                                   start_to_close_timeout=timedelta(seconds=30),
                                                   retry_policy=WRITE_RETRY)
            return None

    async def _auto_analysis(self) -> None:
        """start_prep entered ai_analysis: analyse, then complete_ai_analysis, or flag_exception when the
        analysis found an exception. A failed analysis does not hold the return: the preparer proceeds."""
        outcome = await self._analyze(AnalyzeInput(analysis_id=workflow.uuid4(), return_id=self.state.return_id,
                                                   firm_id=self.state.firm_id))
        self.state.auto_analysis_due = False
        if outcome is not None and outcome.exception:
            await self._apply_system("flag_exception", "ai_analysis",
                                     f"analysis {outcome.analysis_id} found an exception")
        else:
            notes = (f"analysis {outcome.analysis_id}: {outcome.finding_count} finding(s)" if outcome
                     else "analysis failed; preparation continues without it")
            await self._apply_system("complete_ai_analysis", "ai_analysis", notes)

    # ---- timers ---------------------------------------------------------------------------------------

    def _next_reminder(self) -> tuple[datetime, timedelta] | None:
        if self.state.status in sm.FILED_OR_LATER:
            return None
        pending = [(reminder_at(self.state.deadline, o), o) for o in sm.REMINDER_OFFSETS
                   if reminder_key(self.state.deadline, o) not in self.state.reminders_done]
        return min(pending) if pending else None

    async def _send_due_reminders(self) -> None:
        """Send the reminder whose time has come; reminders whose time passed while an even later one is due
        (a return created a week before its deadline) are skipped rather than sent in a burst."""
        if self.state.status in sm.FILED_OR_LATER:
            return
        now = workflow.now()
        due = [o for o in sm.REMINDER_OFFSETS if reminder_at(self.state.deadline, o) <= now
               and reminder_key(self.state.deadline, o) not in self.state.reminders_done]
        if not due:
            return
        latest = min(due)  # the smallest offset: the reminder closest to the deadline
        if now < datetime.combine(self.state.deadline, time(23, 59, tzinfo=timezone.utc)):
            recipient = sm.assignee_for(self.state.status, self.state.assigned_preparer_id,
                                        self.state.assigned_reviewer_id)
            await workflow.execute_activity_method(
                TaxReturnActivities.send_reminder,
                ReminderRequest(return_id=self.state.return_id, deadline=self.state.deadline,
                                days_before=latest.days, recipient_id=recipient),
                start_to_close_timeout=timedelta(seconds=30), retry_policy=WRITE_RETRY)
        self.state.reminders_done += [reminder_key(self.state.deadline, o) for o in due]
        self._publish()

    async def _flag_stuck_or_escalate(self) -> None:
        budget = sm.TIME_BUDGET[sm.Status(self.state.status)]
        if budget is None:
            return
        now = workflow.now()
        over_at = self.state.status_entered_at + budget
        if self.state.stuck_since is None and now >= over_at:
            status = self.state.status
            await workflow.execute_activity_method(
                TaxReturnActivities.mark_stuck, StuckMark(return_id=self.state.return_id, status=status,
                                                          stuck_since=over_at),
                start_to_close_timeout=timedelta(seconds=10), retry_policy=WRITE_RETRY)
            if self.state.status == status:  # a transition during the write cleared it
                self.state.stuck_since = over_at
                self._publish()
        elif (self.state.stuck_since is not None and now >= self.state.status_entered_at + 2 * budget
              and self.state.status in sm.sources_of("escalate")):
            await self._apply_system("escalate", "stuck_timer",
                                     f"stuck in {self.state.status} since {self.state.stuck_since.isoformat()}")

    # ---- visibility -----------------------------------------------------------------------------------

    def _publish(self) -> None:
        """Search attributes for Temporal UI (Postgres remains what the API reads)."""
        s = self.state
        assignee = sm.assignee_for(s.status, s.assigned_preparer_id, s.assigned_reviewer_id)
        reminder = self._next_reminder()
        values = {
            sa.ENTITY_TYPE: "tax_return",
            sa.ENTITY_STATUS: "deleted" if s.deleted else s.status,
            sa.CLIENT_ID: str(s.client_id),
            sa.FIRM_ID: str(s.firm_id),
            sa.RETURN_TYPE: s.return_type,
            sa.TAX_YEAR: s.tax_year,
            sa.DUE_DATE: datetime.combine(s.deadline, time(0, 0, tzinfo=timezone.utc)),
            sa.ASSIGNEE_ID: str(assignee) if assignee else None,
            sa.STUCK_SINCE: s.stuck_since,
            sa.NEXT_REMINDER_AT: reminder[0] if reminder else None,
        }
        self._search_attributes.publish(values)
