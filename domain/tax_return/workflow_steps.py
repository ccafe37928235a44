"""What TaxReturnWorkflow's activities write besides transitions, as services of the system actor (called under
`ServiceContext.for_system`): the stuck flag, a deadline reminder's record, an analysis's progress.

Transitions are written elsewhere (the `record_transition` activity, with its history and audit rows in one
statement). Each step here is idempotent, because Temporal runs an activity at least once.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert

from domain import policy
from domain.context import ServiceContext
from domain.tax_return.analysis import AnalysisResult
from domain.tax_return.models import AiAnalysis, ReturnReminder, TaxReturn

WORKFLOW = "return.workflow"


async def mark_stuck(ctx: ServiceContext, return_id: uuid.UUID, status: str, stuck_since: datetime) -> None:
    """Flag the return stuck, only while it is still in the status that ran over its time budget."""
    policy.require(ctx.principal, WORKFLOW)
    await ctx.session.execute(update(TaxReturn).where(
        TaxReturn.id == return_id, TaxReturn.firm_id == ctx.principal.firm_id, TaxReturn.status == status,
    ).values(stuck_since=stuck_since))


async def record_reminder(ctx: ServiceContext, return_id: uuid.UUID, deadline: date, days_before: int,
                          recipient_id: uuid.UUID | None) -> bool:
    """The reminder of this deadline, this many days before it, to this person: True the first time only (the
    caller sends it in the same transaction, so a failed send leaves no record)."""
    policy.require(ctx.principal, WORKFLOW)
    inserted = (await ctx.session.execute(
        insert(ReturnReminder).values(id=uuid.uuid4(), return_id=return_id, deadline=deadline,
                                      days_before=days_before, recipient_id=recipient_id)
        .on_conflict_do_nothing(constraint="uq_tax_return_reminders_key").returning(ReturnReminder.id))).first()
    return inserted is not None


async def begin_analysis(ctx: ServiceContext, analysis_id: uuid.UUID, return_id: uuid.UUID, analysis_type: str,
                         include_prior_year_comparison: bool, requested_by: uuid.UUID | None) -> None:
    """The analysis row in status processing, unless it exists (the API wrote it, or an earlier attempt)."""
    policy.require(ctx.principal, WORKFLOW)
    await ctx.session.execute(insert(AiAnalysis).values(
        id=analysis_id, firm_id=ctx.principal.firm_id, return_id=return_id, analysis_type=analysis_type,
        include_prior_year_comparison=include_prior_year_comparison, status="processing",
        findings=[], suggested_questions=[], requested_by=requested_by,
    ).on_conflict_do_nothing(index_elements=["id"]))


async def complete_analysis(ctx: ServiceContext, analysis_id: uuid.UUID, result: AnalysisResult) -> AiAnalysis:
    policy.require(ctx.principal, WORKFLOW)
    stored = await ctx.session.get(AiAnalysis, analysis_id, with_for_update=True)
    stored.status, stored.analyzer = "completed", result.analyzer
    stored.findings = [dict(f.as_dict(), exception=f.exception) for f in result.findings]
    stored.suggested_questions = [q.as_dict() for q in result.suggested_questions]
    stored.completed_at = datetime.now(timezone.utc)
    return stored


async def fail_analysis(ctx: ServiceContext, analysis_id: uuid.UUID) -> None:
    """An analysis that could not be completed (its retries ran out), unless it completed meanwhile."""
    policy.require(ctx.principal, WORKFLOW)
    await ctx.session.execute(update(AiAnalysis).where(
        AiAnalysis.id == analysis_id, AiAnalysis.firm_id == ctx.principal.firm_id, AiAnalysis.status == "processing",
    ).values(status="failed", error="the analysis could not be completed", completed_at=datetime.now(timezone.utc)))
