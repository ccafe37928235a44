"""How the API talks to a return's TaxReturnWorkflow: start it, send a transition Update, report changes.

A return whose workflow is missing (its start failed after the create committed) gets it started from the
Postgres row on the next call, so a lost start never strands a return.
"""

from __future__ import annotations

import uuid

from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.tax_return import AnalyzeInput
from domain.errors import DomainError, FieldError, ServiceUnavailable
from domain.tax_return.models import TaxReturn
from domain.tax_return.service import effective_due_date
from workflows import ids, queues
from workflows.tax_return import (
    ANALYZE_SIGNAL, DOMAIN_ERROR, RETURN_CHANGED_SIGNAL, TRANSITION_UPDATE, TaxReturnWorkflow,
)
from workflows.tax_return_models import (
    ReturnChanged, TaxReturnState, TaxReturnWorkflowInput, TransitionRequest, TransitionResult,
)


def workflow_input(tax_return: TaxReturn) -> TaxReturnWorkflowInput:
    return TaxReturnWorkflowInput(state=TaxReturnState(
        return_id=tax_return.id, firm_id=tax_return.firm_id, client_id=tax_return.client_id,
        tax_year=tax_return.tax_year, return_type=tax_return.return_type, status=tax_return.status,
        status_entered_at=tax_return.status_entered_at, assigned_preparer_id=tax_return.assigned_preparer_id,
        assigned_reviewer_id=tax_return.assigned_reviewer_id, deadline=effective_due_date(tax_return),
        stuck_since=tax_return.stuck_since))


async def start(client: Client, tax_return: TaxReturn, task_queue: str = queues.TAX_RETURN) -> None:
    """Start the return's workflow, or find the running one (the id is the return's)."""
    await client.start_workflow(TaxReturnWorkflow.run, workflow_input(tax_return), id=ids.tax_return(tax_return.id),
                                task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)


def _domain_error(err: WorkflowUpdateFailedError) -> DomainError | None:
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type == DOMAIN_ERROR and cause.details:
        info = cause.details[0]
        return DomainError(cause.message, [FieldError(**e) for e in info.get("errors", [])], info["status"],
                           info["code"], info["title"])
    return None


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
        refusal = _domain_error(err)
        if refusal is None:
            raise
        raise refusal from None


async def _signal_or_start(client: Client, tax_return: TaxReturn, signal: str, arg) -> None:
    await client.start_workflow(TaxReturnWorkflow.run, workflow_input(tax_return), id=ids.tax_return(tax_return.id),
                                task_queue=queues.TAX_RETURN, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                                start_signal=signal, start_signal_args=[arg])


async def report_change(client: Client, tax_return: TaxReturn) -> None:
    """Tell the workflow about a new assignee, a moved deadline or a deletion."""
    change = ReturnChanged(assigned_preparer_id=tax_return.assigned_preparer_id,
                           assigned_reviewer_id=tax_return.assigned_reviewer_id,
                           deadline=effective_due_date(tax_return), deleted=tax_return.deleted_at is not None)
    if change.deleted:
        try:  # a deleted return's workflow only needs to stop; never start one to tell it
            await client.get_workflow_handle(ids.tax_return(tax_return.id)).signal(RETURN_CHANGED_SIGNAL, change)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
        return
    await _signal_or_start(client, tax_return, RETURN_CHANGED_SIGNAL, change)


async def request_analysis(client: Client, tax_return: TaxReturn, request: AnalyzeInput) -> None:
    await _signal_or_start(client, tax_return, ANALYZE_SIGNAL, request)
