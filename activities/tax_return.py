"""Activities of TaxReturnWorkflow: write a transition, flag a stuck return, send a deadline reminder, run
an analysis. Each is idempotent, because Temporal runs an activity at least once:

- a transition's history row has the id the workflow generated for it; the status update and the audit
  row are written in the same transaction only when that row is new, so a retry after a worker died
  between commit and completion writes nothing twice;
- a reminder is keyed by (return, deadline, days before) and inserted before the mail is sent;
- an analysis already completed is returned as stored.

Besides the transition (one statement, on the hot path), the writes go through the system actor's services
(domain/tax_return/workflow_steps.py) under `ServiceContext.for_system`.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timezone

from pydantic import BaseModel
from sqlalchemy import Select, bindparam, cast, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.audit.models import AuditEntry
from domain.client.models import Client
from domain.context import ServiceContext
from domain.event.models import DomainEvent
from domain.event.record import thin_data
from domain.lifecycle import history as lifecycle_history
from domain.tax_return import analysis_inputs, workflow_steps
from domain.tax_return.models import AiAnalysis, TaxReturn
from domain.tax_return.state_machine import LIFECYCLE
from domain.user.models import User
from integrations.notify import Notification, Recipient
from integrations.providers import Analyzer, Notifications
from orchestration.tax_return import AnalyzeInput

# The system actor's source, as the audit log names it.
SOURCE = "tax_return_workflow"


class TransitionRecord(BaseModel):
    transition_id: uuid.UUID
    return_id: uuid.UUID
    firm_id: uuid.UUID
    client_id: uuid.UUID
    action: str
    from_status: str
    to_status: str
    transitioned_at: datetime
    actor_id: uuid.UUID | None
    actor_role: str
    source: str
    notes: str | None = None
    # start_review makes the reviewer who starts it the assigned reviewer (when none is assigned).
    assign_reviewer_id: uuid.UUID | None = None
    request_id: str | None = None
    correlation_id: str | None = None
    ip_address: str | None = None


class TransitionRecorded(BaseModel):
    recorded: bool  # False: a retry found the transition already written


class StuckMark(BaseModel):
    return_id: uuid.UUID
    status: str
    stuck_since: datetime


class ReminderRequest(BaseModel):
    return_id: uuid.UUID
    deadline: date
    days_before: int
    recipient_id: uuid.UUID | None


class AnalyzeOutcome(BaseModel):
    analysis_id: uuid.UUID
    status: str
    exception: bool
    finding_count: int


class TaxReturnActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], notifier: Notifications, analyzer: Analyzer):
        self.sessionmaker, self.notifier, self.analyzer = sessionmaker, notifier, analyzer
        # The transition is one statement, atomic on its own: sent without BEGIN and COMMIT around it, it is
        # one round trip to Postgres instead of three.
        self.autocommit_engine = sessionmaker.kw["bind"].execution_options(isolation_level="AUTOCOMMIT")

    @activity.defn(name="tax_return.record_transition")
    async def record_transition(self, data: TransitionRecord) -> TransitionRecorded:
        # On a Core connection: the ORM's execution path cost more CPU than the write itself.
        async with self.autocommit_engine.connect() as connection:
            recorded = (await connection.execute(TRANSITION_STATEMENT, transition_parameters(data))).first()
        return TransitionRecorded(recorded=recorded is not None)

    @activity.defn(name="tax_return.mark_stuck")
    async def mark_stuck(self, data: StuckMark) -> None:
        async with self.sessionmaker.begin() as session:
            firm_id = await session.scalar(select(TaxReturn.firm_id).where(TaxReturn.id == data.return_id))
            if firm_id is not None:
                await workflow_steps.mark_stuck(ServiceContext.for_system(session, firm_id, SOURCE), data.return_id,
                                                data.status, data.stuck_since)

    @activity.defn(name="tax_return.send_reminder")
    async def send_reminder(self, data: ReminderRequest) -> bool:
        """True when this call sent the mail; False when there is nobody to remind, it was sent before, or the
        address cannot be mailed (integrations/mail.py; the reminder counts as done)."""
        async with self.sessionmaker.begin() as session:
            row = (await session.execute(
                select(TaxReturn, Client.name, User.email, User.full_name)
                .join(Client, Client.id == TaxReturn.client_id)
                .outerjoin(User, (User.id == data.recipient_id) & User.is_active)
                .where(TaxReturn.id == data.return_id))).first()
            if row is None or row.email is None:
                return False
            tax_return = row[0]
            if not await workflow_steps.record_reminder(ServiceContext.for_system(session, tax_return.firm_id, SOURCE),
                                                        data.return_id, data.deadline, data.days_before,
                                                        data.recipient_id):
                return False
            # Sent inside the transaction: a failed send rolls the row back and the retry sends again.
            # No client PII beyond the name the assignee already works with.
            subject = f"Reminder: {tax_return.tax_year} {tax_return.return_type} for {row.name} due {data.deadline}"
            used = await self.notifier.send(Recipient(email=row.email), Notification(
                subject=subject,
                text=(f"Hello {row.full_name},\n\nThe {tax_return.tax_year} Form {tax_return.return_type} return "
                      f"of {row.name} is due on {data.deadline.isoformat()} ({data.days_before} day(s) from the "
                      f"reminder date). Its status is {tax_return.status}.\n\nReturn id: {tax_return.id}\n"),
                sms_text=subject))
        return "email" in used

    @activity.defn(name="tax_return.analyze")
    async def analyze(self, data: AnalyzeInput) -> AnalyzeOutcome:
        async with self.sessionmaker.begin() as session:
            await workflow_steps.begin_analysis(ServiceContext.for_system(session, data.firm_id, SOURCE),
                                                data.analysis_id, data.return_id, data.analysis_type,
                                                data.include_prior_year_comparison, data.requested_by)
        async with self.sessionmaker() as session:
            stored = await session.get(AiAnalysis, data.analysis_id)
            if stored.status == "completed":
                return _outcome(stored)
            tax_return = await session.get(TaxReturn, data.return_id)
            facts = await analysis_inputs.gather(session, tax_return, stored.include_prior_year_comparison)
        # The analyzer may block on the network (Bedrock): off the event loop.
        result = await asyncio.to_thread(self.analyzer.analyze, data.analysis_id, facts)
        async with self.sessionmaker.begin() as session:
            stored = await workflow_steps.complete_analysis(ServiceContext.for_system(session, data.firm_id, SOURCE),
                                                            data.analysis_id, result)
        return _outcome(stored)

    @activity.defn(name="tax_return.fail_analysis")
    async def fail_analysis(self, data: AnalyzeInput) -> None:
        async with self.sessionmaker.begin() as session:
            await workflow_steps.fail_analysis(ServiceContext.for_system(session, data.firm_id, SOURCE),
                                               data.analysis_id)


EVENT_COLUMNS = ("id", "firm_id", "type", "entity_type", "entity_id", "client_id", "occurred_at", "data")
STATUS_CHANGED = "return.status_changed"

AUDIT_COLUMNS = ("firm_id", "actor_id", "actor_role", "action", "resource_type", "resource_id", "client_id",
                 "correlation_id", "request_id", "ip_address", "details")


def _transition_statement() -> Select:
    """The history row, the return's new status and the audit row in one statement (one round trip on the
    hot path of every transition). The status and audit writes happen only when the history row is new:
    a retry of a transition already written changes nothing and returns no row.

    Built once, with bind parameters (`transition_parameters` gives their values): building and hashing this
    statement per call cost about 1.7 ms of worker CPU, more than its round trip to Postgres."""
    def p(name: str, **kw):
        # Prefixed: SQLAlchemy renders an execution parameter named like a column of an UPDATE's table into
        # its SET clause ("firm_id" would have been), even inside a CTE.
        return bindparam(f"p_{name}", **kw)

    history = lifecycle_history.insert_once(
        LIFECYCLE, id=p("transition_id"), firm_id=p("firm_id"), entity_id=p("return_id"), action=p("action"),
        from_status=p("from_status"), to_status=p("to_status"), at=p("transitioned_at"), actor_id=p("actor_id"),
        actor_role=p("actor_role"), source=p("source"), note=p("notes"),
    ).cte("history")
    is_new = exists(select(history.c.id))
    moved = update(TaxReturn).where(TaxReturn.id == p("return_id"), is_new).values(
        status=p("to_status"), status_entered_at=p("transitioned_at"), stuck_since=None, updated_at=p("updated_at"),
        # start_review: the reviewer who starts it becomes the assigned reviewer, unless one is assigned
        # (for every other action the parameter is NULL and the column keeps its value).
        assigned_reviewer_id=func.coalesce(TaxReturn.assigned_reviewer_id,
                                           p("assign_reviewer_id", type_=TaxReturn.assigned_reviewer_id.type)),
    ).returning(TaxReturn.id).cte("moved")
    # INSERT … SELECT: every value typed explicitly (Postgres cannot infer inet or jsonb from a parameter).
    typed = [cast(p(f"audit_{name}", type_=getattr(AuditEntry, name).type), getattr(AuditEntry, name).type)
             for name in AUDIT_COLUMNS]
    audited = insert(AuditEntry).from_select(list(AUDIT_COLUMNS), select(*typed).where(is_new)) \
        .returning(AuditEntry.id).cte("audited")
    # The domain event (domain/event/), in the same statement and so the same transaction, also only when the
    # history row is new: its id is the transition's, so a retry can never report the change twice.
    event_typed = [cast(p(f"event_{name}", type_=getattr(DomainEvent, name).type), getattr(DomainEvent, name).type)
                   for name in EVENT_COLUMNS]
    evented = insert(DomainEvent).from_select(list(EVENT_COLUMNS), select(*event_typed).where(is_new)) \
        .returning(DomainEvent.id).cte("evented")
    return select(history.c.id).add_cte(moved, audited, evented)


TRANSITION_STATEMENT = _transition_statement()


TRANSITION_FIELDS = frozenset({"transition_id", "firm_id", "return_id", "action", "from_status", "to_status",
                               "transitioned_at", "actor_id", "actor_role", "source", "notes", "assign_reviewer_id"})


def transition_parameters(data: TransitionRecord) -> dict:
    audit = {
        "firm_id": data.firm_id, "actor_id": data.actor_id, "actor_role": data.actor_role,
        "action": "return.transition", "resource_type": "tax_return", "resource_id": str(data.return_id),
        "client_id": data.client_id, "correlation_id": data.correlation_id, "request_id": data.request_id,
        "ip_address": data.ip_address,
        "details": {"action": data.action, "from_status": data.from_status, "to_status": data.to_status,
                    "source": data.source, "transition_id": str(data.transition_id)},
    }
    event = {
        "id": data.transition_id, "firm_id": data.firm_id, "type": STATUS_CHANGED, "entity_type": "tax_return",
        "entity_id": data.return_id, "client_id": data.client_id, "occurred_at": data.transitioned_at,
        "data": thin_data(STATUS_CHANGED, "tax_return", {"action": data.action, "from_status": data.from_status,
                                                         "to_status": data.to_status}),
    }
    values = {**data.model_dump(include=TRANSITION_FIELDS), "updated_at": datetime.now(timezone.utc),
              **{f"audit_{name}": value for name, value in audit.items()},
              **{f"event_{name}": value for name, value in event.items()}}
    return {f"p_{name}": value for name, value in values.items()}


def _outcome(stored: AiAnalysis) -> AnalyzeOutcome:
    return AnalyzeOutcome(analysis_id=stored.id, status=stored.status,
                          exception=any(f.get("exception") for f in stored.findings),
                          finding_count=len(stored.findings))
