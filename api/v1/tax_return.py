"""Returns, their workflow and their analyses (spec §5)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from fastapi import APIRouter, Request, Response

from api import envelope
from api.deps import Ctx, State
from api.json_route import JSONRoute
from api.money_json import MoneyJSONResponse
from api.schemas.base import patch_changes
from api.openapi import One, answers, list_of
from api.schemas.tax_return import (
    AnalysisAccepted, AnalysisOut, AnalyzeBody, ReturnCreate, ReturnDetail, ReturnSummary, ReturnUpdate,
    TransitionBody, TransitionResult, WorkflowState,
)
from api.v1.client import iso
from domain import policy
from domain.client.models import Client
from domain.client.service import load_visible_client
from domain.engagement import service as engagements
from domain.listing import parse_list_query
from domain.tax_return import service
from domain.tax_return import state_machine as sm
from domain.lifecycle.models import LifecycleHistory
from domain.tax_return.models import AiAnalysis, PreparerNote, TaxReturn
from orchestration import tax_return as workflow

router = APIRouter(route_class=JSONRoute, tags=["returns"])


def _id(value) -> str | None:
    return str(value) if value is not None else None


def return_summary(tax_return: TaxReturn, client_name: str | None) -> dict:
    return {
        "id": str(tax_return.id),
        "client_id": str(tax_return.client_id),
        "client_name": client_name,
        "tax_year": tax_return.tax_year,
        "return_type": tax_return.return_type,
        "filing_status": tax_return.filing_status,
        "status": tax_return.status,
        "progress_percentage": sm.PROGRESS[sm.Status(tax_return.status)],
        "assigned_preparer_id": _id(tax_return.assigned_preparer_id),
        "assigned_reviewer_id": _id(tax_return.assigned_reviewer_id),
        "extension_filed": tax_return.extension_filed,
        "due_date": service.effective_due_date(tax_return).isoformat(),
        "stuck_since": iso(tax_return.stuck_since),
        "created_at": iso(tax_return.created_at),
        "updated_at": iso(tax_return.updated_at),
    }


def history_out(row: LifecycleHistory) -> dict:
    """Spec §5.2's names for the columns of lifecycle_history (at → transitioned_at, actor → transitioned_by)."""
    return {"from_status": row.from_status, "to_status": row.to_status, "action": row.action,
            "transitioned_at": iso(row.at), "transitioned_by": _id(row.actor_id),
            "actor_role": row.actor_role, "notes": row.note}


def note_out(note: PreparerNote) -> dict:
    return {"id": str(note.id), "document_id": _id(note.document_id), "note_text": note.note_text,
            "author_id": str(note.author_id), "created_at": iso(note.created_at), "updated_at": iso(note.updated_at)}


# What a portal client sees of their own return (issue 13, low; docs/tax_return.md, "What a portal client
# sees"): its status, progress, dates and filing, never how the firm works it (staff ids, priority, the stuck
# flag, working estimates, who did what with which note). Staff output is the functions above, unchanged.
def portal_return_summary(tax_return: TaxReturn, client_name: str | None) -> dict:
    """The staff summary, cut to the fields the portal list declares (service.PORTAL_RETURN_LIST_SPEC)."""
    return {key: value for key, value in return_summary(tax_return, client_name).items()
            if key in service.PORTAL_RETURN_LIST_SPEC.output_fields}


def portal_history_out(row: LifecycleHistory) -> dict:
    """The status timeline: the action names (escalate, flag_exception …), actors and notes are staff's."""
    return {"from_status": row.from_status, "to_status": row.to_status, "transitioned_at": iso(row.at)}


async def portal_return_detail(ctx, tax_return: TaxReturn, client: Client) -> dict:
    return {
        **portal_return_summary(tax_return, client.name),
        "extension_date": tax_return.extension_date.isoformat() if tax_return.extension_date else None,
        "original_due_date": tax_return.due_date.isoformat(),
        "federal_status": tax_return.federal_status,
        "state_filings": tax_return.state_filings,
        "workflow_history": [portal_history_out(h) for h in await service.history(ctx, tax_return.id)],
    }


async def return_detail(ctx, tax_return: TaxReturn, client: Client) -> dict:
    if not ctx.principal.is_staff:
        return await portal_return_detail(ctx, tax_return, client)
    summary = return_summary(tax_return, client.name)
    detail = {
        **{k: summary[k] for k in ("id", "client_id", "client_name", "tax_year", "return_type", "filing_status",
                                   "status", "progress_percentage", "assigned_preparer_id", "assigned_reviewer_id",
                                   "extension_filed")},
        "extension_date": tax_return.extension_date.isoformat() if tax_return.extension_date else None,
        "due_date": summary["due_date"],
        "original_due_date": tax_return.due_date.isoformat(),
        "priority": tax_return.priority,
        "estimated_refund": tax_return.estimated_refund,  # Decimal: rendered exactly by MoneyJSONResponse
        "estimated_tax_due": tax_return.estimated_tax_due,
        "federal_status": tax_return.federal_status,
        "state_filings": tax_return.state_filings,
        "stuck_since": summary["stuck_since"],
        "workflow_history": [history_out(h) for h in await service.history(ctx, tax_return.id)],
        "created_at": summary["created_at"],
        "updated_at": summary["updated_at"],
    }
    if ctx.principal.is_staff:  # Appendix B: notes are for staff only
        detail["preparer_notes"] = [note_out(n) for n in await service.preparer_notes(ctx, tax_return.id)]
    return detail


async def _page(ctx, request: Request, client_id: uuid.UUID | None = None) -> dict:
    query = parse_list_query(list(request.query_params.multi_items()), service.list_spec(ctx))
    page = await service.list_returns(ctx, query, client_id)
    names = await service.client_names(ctx, {r.client_id for r in page.items})
    summary = return_summary if ctx.principal.is_staff else portal_return_summary
    return envelope.page(page, query, lambda r: summary(r, names.get(r.client_id)))


@router.get("/returns", summary="List returns", operation_id="list_returns",
            **answers(list_of(ReturnSummary, service.RETURN_LIST_SPEC)))
async def list_returns(request: Request, ctx: Ctx):
    """Filters: client_id, tax_year (also __gte/__lte/__in), status, return_type, assigned_preparer_id,
    assigned_reviewer_id, priority, due_date__gte/__lte, `stuck=true` for returns over their status's time
    budget. Preparers see returns assigned to them or to their clients; clients see their own."""
    return await _page(ctx, request)


@router.get("/clients/{client_id}/returns", summary="List a client's returns", operation_id="list_client_returns",
            **answers(list_of(ReturnSummary, service.RETURN_LIST_SPEC), 403, 404))
async def list_client_returns(client_id: uuid.UUID, request: Request, ctx: Ctx):
    policy.require(ctx.principal, "return.list")
    await load_visible_client(ctx, client_id)
    return await _page(ctx, request, client_id)


@router.post("/returns", summary="Create a return", operation_id="create_return",
             **answers(One(ReturnDetail), 403, 404, 409, 422, status=201))
async def create_return(body: ReturnCreate, ctx: Ctx, state: State):
    """Computes `due_date` from the return type and tax year (weekends and legal holidays rolled) and
    starts the return's TaxReturnWorkflow once the return is committed."""
    tax_return, client = await service.create_return(ctx, body.model_dump(exclude_unset=True))
    detail = await return_detail(ctx, tax_return, client)
    # The workflow's activities read the row: commit first, then start. Through the outbox, so a return
    # created while Temporal cannot be reached still gets its workflow (timers, stuck flag) a little later.
    await state.outbox.commit_and_send(ctx.session, workflow.started(tax_return.id))
    return MoneyJSONResponse(envelope.one(detail), status_code=201)


@router.get("/returns/{return_id}", summary="Get a return", operation_id="get_return",
            **answers(One(ReturnDetail), 404))
async def get_return(return_id: uuid.UUID, ctx: Ctx):
    """Includes the workflow history, and for staff the preparer notes (Appendix B)."""
    tax_return, client = await service.get_return(ctx, return_id)
    return MoneyJSONResponse(envelope.one(await return_detail(ctx, tax_return, client)))


@router.patch("/returns/{return_id}", summary="Update a return", operation_id="update_return",
              **answers(One(ReturnDetail), 403, 404, 409, 422))
async def update_return(return_id: uuid.UUID, body: ReturnUpdate, ctx: Ctx, state: State):
    """Partial update. `extension_filed: true` moves the deadline (April 15 → October 15); only admin,
    EA/CPA and reviewers reassign; `preparer_notes` adds, edits or deletes notes. The status changes only
    through the workflow transition endpoint."""
    changes = patch_changes(body)
    if "preparer_notes" in changes:
        changes["preparer_notes"] = [n.model_dump(exclude_unset=True) for n in body.preparer_notes]
    tax_return, client = await service.update_return(ctx, return_id, changes)
    detail = await return_detail(ctx, tax_return, client)
    if service.WORKFLOW_FIELDS & changes.keys() and tax_return.status not in sm.FINAL:
        await state.outbox.commit_and_send(ctx.session, workflow.changed(tax_return.id))
    return MoneyJSONResponse(envelope.one(detail))


@router.delete("/returns/{return_id}", summary="Soft-delete a return (admin, EA/CPA)", operation_id="delete_return",
               **answers(None, 403, 404, 409, 422, status=204, description="Deleted"))
async def delete_return(return_id: uuid.UUID, ctx: Ctx, state: State):
    """Refused (422) once the return has been filed."""
    tax_return = await service.delete_return(ctx, return_id)
    await state.outbox.commit_and_send(ctx.session, workflow.changed(tax_return.id))
    return Response(status_code=204)


@router.post("/returns/{return_id}/workflow/transition", summary="Transition the return's workflow",
             operation_id="transition_return", **answers(One(TransitionResult), 403, 404, 409, 422))
async def transition(return_id: uuid.UUID, body: TransitionBody, ctx: Ctx, state: State):
    """Actions and their roles: docs/tax_return.md. 403 for a role that may not take the action, 409 for a
    wrong from-status or a concurrent transition, 422 for a failed guard; nothing is recorded then."""
    policy.require(ctx.principal, "return.transition")
    tax_return, _ = await service.load_visible_return(ctx, return_id)
    role = ctx.principal.role
    # Refuse here what needs no workflow to refuse (unknown action, forbidden role), and a complete return,
    # whose workflow has ended.
    sm.check_action(body.action, role)
    if tax_return.status == sm.Status.INTAKE:
        # The firm's setting (docs/engagement.md): no return leaves intake before its engagement letter is signed.
        await engagements.require_signed_before_prep(ctx, tax_return.client_id, tax_return.tax_year)
    facts = await service.guard_facts(ctx, tax_return, body.action)
    if tax_return.status in sm.FINAL:
        sm.check(body.action, tax_return.status, role, facts)
    request = workflow.TransitionRequest(
        action=body.action, notes=body.notes, actor_id=ctx.principal.user_id, actor_role=role.value,
        assigned_preparer_id=facts.assigned_preparer_id, pending_questions=facts.pending_questions,
        request_id=ctx.request_id, correlation_id=ctx.correlation_id, ip_address=ctx.ip_address)
    # Nothing to write in this transaction: end it before waiting on the workflow.
    await ctx.session.commit()
    result = await workflow.transition(await state.temporal(), tax_return, request)
    return envelope.one({"id": str(result.id), "status": result.status, "previous_status": result.previous_status,
                         "transitioned_at": iso(result.transitioned_at)})


@router.get("/returns/{return_id}/workflow/state", summary="Get the return's workflow state",
            operation_id="get_workflow_state", **answers(One(WorkflowState), 403, 404))
async def workflow_state(return_id: uuid.UUID, ctx: Ctx):
    """Current status, when it was entered, days in it, who it waits on, and the full history (Postgres)."""
    policy.require(ctx.principal, "return.workflow_state")
    tax_return, client = await service.load_visible_return(ctx, return_id)
    history = await service.history(ctx, tax_return.id)
    await ctx.audit("return.workflow_state", "tax_return", tax_return.id, client_id=client.id)
    if not ctx.principal.is_staff:  # the portal's view: no assignee, no stuck flag, the status timeline only
        return envelope.one({
            "current_status": tax_return.status,
            "entered_at": iso(tax_return.status_entered_at),
            "days_in_status": service.days_in_status(tax_return, datetime.now(timezone.utc)),
            "history": [portal_history_out(h) for h in history],
        })
    assignee = sm.assignee_for(tax_return.status, tax_return.assigned_preparer_id, tax_return.assigned_reviewer_id)
    return envelope.one({
        "current_status": tax_return.status,
        "entered_at": iso(tax_return.status_entered_at),
        "days_in_status": service.days_in_status(tax_return, datetime.now(timezone.utc)),
        "assigned_to": _id(assignee),
        "stuck_since": iso(tax_return.stuck_since),
        "history": [history_out(h) for h in history],
    })


def analysis_out(analysis: AiAnalysis) -> dict:
    return {
        "id": str(analysis.id),
        "status": analysis.status,
        "analysis_type": analysis.analysis_type,
        "analyzer": analysis.analyzer,
        "created_at": iso(analysis.created_at),
        "completed_at": iso(analysis.completed_at),
        "findings": [{k: f[k] for k in ("type", "severity", "description", "recommendation")}
                     for f in analysis.findings],
        "suggested_questions": analysis.suggested_questions,
        "error": analysis.error,
    }


@router.post("/returns/{return_id}/ai/analyze", summary="Analyse a return", operation_id="analyze_return",
             **answers(One(AnalysisAccepted), 403, 404, 409, 422, status=202, description="Accepted"))
async def analyze(return_id: uuid.UUID, body: AnalyzeBody, ctx: Ctx, state: State):
    """Runs as work of the return's workflow; poll GET …/ai/analysis/{analysis_id}."""
    tax_return, analysis = await service.request_analysis(ctx, return_id, body.analysis_type,
                                                          body.include_prior_year_comparison)
    await state.outbox.commit_and_send(ctx.session, workflow.analysis_requested(workflow.AnalyzeInput(
        analysis_id=analysis.id, return_id=tax_return.id, firm_id=tax_return.firm_id,
        analysis_type=analysis.analysis_type, include_prior_year_comparison=analysis.include_prior_year_comparison,
        requested_by=analysis.requested_by)))
    return envelope.one({"analysis_id": str(analysis.id), "status": "processing",
                         "estimated_completion": iso(analysis.created_at + service.ANALYSIS_ESTIMATE)})


@router.get("/returns/{return_id}/ai/analysis/{analysis_id}", summary="Get an analysis", operation_id="get_analysis",
            **answers(One(AnalysisOut), 403, 404))
async def get_analysis(return_id: uuid.UUID, analysis_id: uuid.UUID, ctx: Ctx):
    return envelope.one(analysis_out(await service.get_analysis(ctx, return_id, analysis_id)))
