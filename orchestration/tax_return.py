"""The tax return's workflow (TaxReturnWorkflow, `tax-return:<uuid>`): its contract and its typed client.

The contract: the workflow's name, its Update and Signal names, and the models they carry. The workflow
implements them (workflows/tax_return.py); the API and the activities reach it only through the functions
below. A return whose workflow is missing (its start was lost) gets it started from the Postgres row by the
next call that needs it, so a lost start never strands a return.

Outbox kinds (orchestration/outbox.py) for the messages that need no answer: `tax_return.start`,
`tax_return.changed`, `tax_return.analyze`, `tax_return.system_event`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import ServiceUnavailable
from domain.tax_return.models import TaxReturn
from domain.tax_return.service import effective_due_date
from orchestration import domain_error, ids, queues
from orchestration.connect import signal_if_running
from orchestration.message import Delivery, OutboxMessage

WORKFLOW = "TaxReturn"
TRANSITION_UPDATE = "transition"
RETURN_CHANGED_SIGNAL = "return_changed"
ANALYZE_SIGNAL = "analyze"
SYSTEM_EVENT_SIGNAL = "system_event"
ENTITY_TYPE = "tax_return"


# ---- the contract: models ---------------------------------------------------------------------------------

class AnalyzeInput(BaseModel):
    analysis_id: uuid.UUID
    return_id: uuid.UUID
    firm_id: uuid.UUID
    analysis_type: str = "comprehensive"
    include_prior_year_comparison: bool = True
    requested_by: uuid.UUID | None = None


class TaxReturnState(BaseModel):
    """Everything the workflow carries across continue-as-new."""

    return_id: uuid.UUID
    firm_id: uuid.UUID
    client_id: uuid.UUID
    tax_year: int
    return_type: str
    status: str
    status_entered_at: datetime
    assigned_preparer_id: uuid.UUID | None = None
    assigned_reviewer_id: uuid.UUID | None = None
    deadline: date
    stuck_since: datetime | None = None
    # "deadline/days_before" of reminders already sent or skipped.
    reminders_done: list[str] = []
    # Analyses requested through the API and not yet run.
    pending_analyses: list[AnalyzeInput] = []
    # Set when start_prep enters ai_analysis: the workflow runs the analysis and applies its outcome.
    auto_analysis_due: bool = False
    deleted: bool = False


class TaxReturnWorkflowInput(BaseModel):
    state: TaxReturnState
    # Continue-as-new after this many history events (HISTORY_EVENT_LIMIT unless set, e.g. by a test).
    history_event_limit: int | None = None


class TransitionRequest(BaseModel):
    action: str
    notes: str | None = None
    actor_id: uuid.UUID | None = None
    actor_role: str
    source: str = "api"
    # Guard facts the API read from Postgres in the same request (pending questions, assigned preparer).
    # Histories before pending questions became optional carry 0 where nothing read them.
    assigned_preparer_id: uuid.UUID | None = None
    pending_questions: int | None = None
    request_id: str | None = None
    correlation_id: str | None = None
    ip_address: str | None = None


class TransitionResult(BaseModel):
    id: uuid.UUID
    status: str
    previous_status: str
    transitioned_at: datetime


class ReturnChanged(BaseModel):
    assigned_preparer_id: uuid.UUID | None
    assigned_reviewer_id: uuid.UUID | None
    deadline: date
    deleted: bool = False


class TaxReturnSystemEvent(BaseModel):
    """An event another capability reports (documents arriving, a checklist complete, a signature received …):
    a Signal, because the sender does not wait for the outcome; the workflow applies it only when the return's
    state machine allows it from the current status."""

    action: str  # a System action of the return state machine, e.g. "documents_received"
    source: str  # which capability sent it, e.g. "document"
    notes: str | None = None


def workflow_input(tax_return: TaxReturn) -> TaxReturnWorkflowInput:
    return TaxReturnWorkflowInput(state=TaxReturnState(
        return_id=tax_return.id, firm_id=tax_return.firm_id, client_id=tax_return.client_id,
        tax_year=tax_return.tax_year, return_type=tax_return.return_type, status=tax_return.status,
        status_entered_at=tax_return.status_entered_at, assigned_preparer_id=tax_return.assigned_preparer_id,
        assigned_reviewer_id=tax_return.assigned_reviewer_id, deadline=effective_due_date(tax_return),
        stuck_since=tax_return.stuck_since))


# ---- the client: calls that need an answer ----------------------------------------------------------------

async def start(client: Client, tax_return: TaxReturn, task_queue: str = queues.TAX_RETURN) -> None:
    """Start the return's workflow, or find the running one (the id is the return's)."""
    await client.start_workflow(WORKFLOW, workflow_input(tax_return), id=ids.tax_return(tax_return.id),
                                task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)


# A worker that dies while it holds the transition's workflow task takes the not-yet-persisted Update with
# it, and the caller's wait ends in WorkflowUpdateRPCTimeoutOrCancelledError. The same update id is sent
# again: the server answers a finished Update from its record and hands an unfinished one to the next worker.
UPDATE_ATTEMPTS = 4


async def _execute(client: Client, tax_return: TaxReturn, request: TransitionRequest,
                   update_id: str) -> TransitionResult:
    handle = client.get_workflow_handle(ids.tax_return(tax_return.id))
    for attempt in range(UPDATE_ATTEMPTS):
        try:
            return await handle.execute_update(TRANSITION_UPDATE, request, id=update_id,
                                               result_type=TransitionResult)
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            if attempt == UPDATE_ATTEMPTS - 1:
                raise ServiceUnavailable("The return's workflow did not answer; retry the request") from None
    raise AssertionError("unreachable")


async def transition(client: Client, tax_return: TaxReturn, request: TransitionRequest) -> TransitionResult:
    """Send the transition Update; a refusal comes back as the DomainError the workflow raised."""
    update_id = str(uuid.uuid4())
    try:
        try:
            return await _execute(client, tax_return, request, update_id)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            await start(client, tax_return)
            return await _execute(client, tax_return, request, update_id)
    except WorkflowUpdateFailedError as err:
        refusal = domain_error.from_failure(err)
        if refusal is None:
            raise
        raise refusal from None


async def send_system_event(client: Client, return_id: uuid.UUID, event: TaxReturnSystemEvent) -> bool:
    """Signal the return's workflow; False when it does not run (a return whose workflow has ended)."""
    return await signal_if_running(client, ids.tax_return(return_id), SYSTEM_EVENT_SIGNAL, event)


# ---- outbox messages: told after the commit, delivered for sure -------------------------------------------

START = "tax_return.start"  # no payload: the return was created; its workflow starts from the row
CHANGED = "tax_return.changed"  # no payload: the workflow is told the return's current row
ANALYZE = "tax_return.analyze"  # payload: AnalyzeInput
SYSTEM_EVENT = "tax_return.system_event"  # payload: TaxReturnSystemEvent


def started(return_id: uuid.UUID) -> OutboxMessage:
    return OutboxMessage(START, ENTITY_TYPE, str(return_id))


def changed(return_id: uuid.UUID) -> OutboxMessage:
    return OutboxMessage(CHANGED, ENTITY_TYPE, str(return_id))


def analysis_requested(request: AnalyzeInput) -> OutboxMessage:
    return OutboxMessage(ANALYZE, ENTITY_TYPE, str(request.return_id), request.model_dump(mode="json"))


def system_event(return_id: uuid.UUID, event: TaxReturnSystemEvent) -> OutboxMessage:
    return OutboxMessage(SYSTEM_EVENT, ENTITY_TYPE, str(return_id), event.model_dump(mode="json"))


async def _load(delivery: Delivery, entity_id: str) -> TaxReturn | None:
    return await delivery.session.get(TaxReturn, uuid.UUID(entity_id))


async def _signal_or_start(client: Client, tax_return: TaxReturn, signal: str, arg) -> None:
    await client.start_workflow(WORKFLOW, workflow_input(tax_return), id=ids.tax_return(tax_return.id),
                                task_queue=queues.TAX_RETURN, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                                start_signal=signal, start_signal_args=[arg])


async def _deliver_start(delivery: Delivery, entity_id: str, payload: dict) -> None:
    tax_return = await _load(delivery, entity_id)
    if tax_return is not None and tax_return.deleted_at is None:
        await start(delivery.temporal, tax_return)


async def _deliver_changed(delivery: Delivery, entity_id: str, payload: dict) -> None:
    """Tell the workflow about a new assignee, a moved deadline or a deletion."""
    tax_return = await _load(delivery, entity_id)
    if tax_return is None:
        return
    change = ReturnChanged(assigned_preparer_id=tax_return.assigned_preparer_id,
                           assigned_reviewer_id=tax_return.assigned_reviewer_id,
                           deadline=effective_due_date(tax_return), deleted=tax_return.deleted_at is not None)
    if change.deleted:  # a deleted return's workflow only needs to stop; never start one to tell it
        await signal_if_running(delivery.temporal, ids.tax_return(tax_return.id), RETURN_CHANGED_SIGNAL, change)
        return
    await _signal_or_start(delivery.temporal, tax_return, RETURN_CHANGED_SIGNAL, change)


async def _deliver_analyze(delivery: Delivery, entity_id: str, payload: dict) -> None:
    tax_return = await _load(delivery, entity_id)
    if tax_return is not None:
        await _signal_or_start(delivery.temporal, tax_return, ANALYZE_SIGNAL, AnalyzeInput.model_validate(payload))


async def _deliver_system_event(delivery: Delivery, entity_id: str, payload: dict) -> None:
    await send_system_event(delivery.temporal, uuid.UUID(entity_id), TaxReturnSystemEvent.model_validate(payload))


HANDLERS = {START: _deliver_start, CHANGED: _deliver_changed, ANALYZE: _deliver_analyze,
            SYSTEM_EVENT: _deliver_system_event}
