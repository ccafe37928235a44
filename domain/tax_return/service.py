"""Tax return records: who sees which return, create/update/delete, history and notes.

The status is not written here: it belongs to TaxReturnWorkflow, which writes it with a history row
through an idempotent activity (activities/tax_return.py). This module only reads it.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import Select, bindparam, func, select

from domain import policy
from domain.client.models import Client
from domain.client.service import load_visible_client
from domain.context import ServiceContext
from domain.document import service as documents
from domain.errors import BusinessRuleViolation, Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from domain.lifecycle import history as lifecycle_history
from domain.lifecycle.models import LifecycleHistory
from domain.listing import Filterable, ListQuery, ListSpec, Page, paginate
from domain.question.models import Question
from domain.roles import Role
from domain.tax_calendar import RETURN_TYPES, due_date, extended_due_date
from domain.tax_return import state_machine as sm
from domain.tax_return.models import AiAnalysis, PreparerNote, TaxReturn
from domain.user.models import User

# The one definition of each (api/schemas/tax_return.py reads them).
FILING_STATUSES = ("single", "married_joint", "married_separate", "head_of_household", "qualifying_widow")
PRIORITIES = ("low", "normal", "high", "rush")
ANALYSIS_TYPES = ("comprehensive", "missing_documents", "prior_year_comparison")
# Filing status is a Form 1040 concept; the other returns have none.
FILING_STATUS_TYPES = frozenset({"1040"})
EARLIEST_TAX_YEAR = 2000

RETURN_LIST_SPEC = ListSpec(
    filters={
        "client_id": Filterable(TaxReturn.client_id, uuid.UUID),
        "tax_year": Filterable(TaxReturn.tax_year, int, ("eq", "in", "gte", "lte")),
        "status": Filterable(TaxReturn.status, choices=frozenset(s.value for s in sm.Status)),
        "return_type": Filterable(TaxReturn.return_type, choices=frozenset(RETURN_TYPES)),
        "assigned_preparer_id": Filterable(TaxReturn.assigned_preparer_id, uuid.UUID),
        "assigned_reviewer_id": Filterable(TaxReturn.assigned_reviewer_id, uuid.UUID),
        "priority": Filterable(TaxReturn.priority, choices=frozenset(PRIORITIES)),
        "due_date": Filterable(TaxReturn.due_date, date, ("eq", "gte", "lte")),
        "created_at": Filterable(TaxReturn.created_at, datetime, ("gte", "lte")),
        "updated_at": Filterable(TaxReturn.updated_at, datetime, ("gte", "lte")),
    },
    sortable={"created_at": TaxReturn.created_at, "updated_at": TaxReturn.updated_at,
              "due_date": TaxReturn.due_date, "tax_year": TaxReturn.tax_year},
    id_column=TaxReturn.id,
    default_sort="created_at",
    output_fields=frozenset({"id", "client_id", "client_name", "tax_year", "return_type", "filing_status", "status",
                             "progress_percentage", "assigned_preparer_id", "assigned_reviewer_id",
                             "extension_filed", "due_date", "stuck_since", "created_at", "updated_at"}),
    extra_params=frozenset({"stuck"}),
)

# A portal client's list (issue 13, low): what a client should see of their own returns, and no filter on what
# they do not see (assignees, priority, the stuck flag), which would otherwise disclose it by what it matches.
# docs/tax_return.md, "What a portal client sees".
PORTAL_RETURN_LIST_SPEC = dataclasses.replace(
    RETURN_LIST_SPEC,
    filters={name: f for name, f in RETURN_LIST_SPEC.filters.items()
             if name not in {"assigned_preparer_id", "assigned_reviewer_id", "priority"}},
    output_fields=frozenset({"id", "client_id", "client_name", "tax_year", "return_type", "filing_status",
                             "status", "progress_percentage", "extension_filed", "due_date", "created_at",
                             "updated_at"}),
    extra_params=frozenset(),
)


def list_spec(ctx: ServiceContext) -> ListSpec:
    return RETURN_LIST_SPEC if ctx.principal.is_staff else PORTAL_RETURN_LIST_SPEC


def effective_due_date(tax_return: TaxReturn) -> date:
    """The deadline that counts: the extended one once an extension is filed."""
    return tax_return.extension_date if tax_return.extension_filed and tax_return.extension_date else tax_return.due_date


def readable_returns(ctx: ServiceContext) -> Select:
    """The returns the caller may read: the one query of return visibility under every list of returns.
    `load_visible_return` applies the same rule (`policy.can_see_return`, the Python form beside the SQL one) to
    one statement built once for every caller: it is on the hot path of every transition and sub-resource."""
    return (select(TaxReturn).join(Client, Client.id == TaxReturn.client_id).where(
        policy.return_visibility(ctx.principal, TaxReturn.firm_id, TaxReturn.client_id,
                                 TaxReturn.assigned_preparer_id, Client.assigned_preparer_id),
        TaxReturn.deleted_at.is_(None), Client.deleted_at.is_(None)))


# Built once: every request about one return reads it (building the statement per call costs CPU for nothing).
VISIBLE_RETURN = (select(TaxReturn, Client).join(Client, Client.id == TaxReturn.client_id)
                  .where(TaxReturn.id == bindparam("return_id"), TaxReturn.deleted_at.is_(None),
                         Client.deleted_at.is_(None)))


async def load_visible_return(ctx: ServiceContext, return_id: uuid.UUID) -> tuple[TaxReturn, Client]:
    """The return and its client, if it exists, is not deleted and the caller may see it; else 404.

    The service token's system actor is bound here to the return's firm (ServiceContext.bind_to_firm); a
    deleted client hides its returns too.
    """
    row = (await ctx.session.execute(VISIBLE_RETURN, {"return_id": return_id})).first()
    if row is None:
        raise NotFound("Return")
    tax_return, client = row
    ctx.bind_to_firm(tax_return.firm_id)
    policy.ensure_return_visible(ctx.principal, tax_return, client)
    return tax_return, client


async def list_returns(ctx: ServiceContext, query: ListQuery, client_id: uuid.UUID | None = None) -> Page:
    policy.require(ctx.principal, "return.list")
    stmt = readable_returns(ctx)
    if client_id is not None:
        stmt = stmt.where(TaxReturn.client_id == client_id)
    if "stuck" in query.extras:
        raw = query.extras["stuck"].lower()
        if raw not in ("true", "false"):
            raise ValidationFailed("One or more query parameters failed validation",
                                   [FieldError("stuck", "invalid_format", "stuck must be true or false")])
        stmt = stmt.where(TaxReturn.stuck_since.is_not(None) if raw == "true" else TaxReturn.stuck_since.is_(None))
    page = await paginate(ctx.session, stmt, query, list_spec(ctx))
    await ctx.audit("return.list", "tax_return", details={"count": len(page.items)})
    return page


async def client_names(ctx: ServiceContext, client_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not client_ids:
        return {}
    rows = await ctx.session.execute(select(Client.id, Client.name).where(Client.id.in_(client_ids)))
    return dict(rows.all())


async def _check_staff(ctx: ServiceContext, user_id: uuid.UUID, field: str, roles: frozenset[str]) -> None:
    user = await ctx.session.get(User, user_id)
    if user is None or user.firm_id != ctx.principal.firm_id or not user.is_active or user.role not in roles:
        wanted = " or ".join(sorted(roles))
        raise BusinessRuleViolation(f"{field} must be an active {wanted} of this firm",
                                    [FieldError(field, "invalid_reference", f"not an active {wanted} of this firm")])


def _check_filing_status(return_type: str, filing_status: str | None) -> None:
    if filing_status is not None and return_type not in FILING_STATUS_TYPES:
        raise BusinessRuleViolation("filing_status applies to Form 1040 only", [
            FieldError("filing_status", "not_applicable", f"a {return_type} return has no filing status")])


async def create_return(ctx: ServiceContext, data: dict) -> tuple[TaxReturn, Client]:
    policy.require(ctx.principal, "return.create")
    client = await load_visible_client(ctx, data["client_id"])
    this_year = datetime.now(timezone.utc).year
    if not EARLIEST_TAX_YEAR <= data["tax_year"] <= this_year:
        raise BusinessRuleViolation("tax_year is out of range", [
            FieldError("tax_year", "out_of_range", f"tax_year must be from {EARLIEST_TAX_YEAR} to {this_year}")])
    _check_filing_status(data["return_type"], data.get("filing_status"))
    preparer_id = data.get("assigned_preparer_id")
    if ctx.principal.role == Role.PREPARER:
        # A preparer's new return is theirs, or they could lose sight of what they just created.
        if preparer_id not in (None, ctx.principal.subject_id):
            raise Forbidden("Only admin, EA/CPA and reviewers assign returns to other preparers")
        preparer_id = ctx.principal.subject_id
    preparer_id = preparer_id or client.assigned_preparer_id
    if preparer_id is not None and preparer_id != ctx.principal.subject_id:
        await _check_staff(ctx, preparer_id, "assigned_preparer_id", frozenset({"preparer", "ea_cpa"}))
    duplicate = (await ctx.session.execute(select(TaxReturn.id).where(
        TaxReturn.client_id == client.id, TaxReturn.tax_year == data["tax_year"],
        TaxReturn.return_type == data["return_type"], TaxReturn.deleted_at.is_(None)))).first()
    if duplicate is not None:
        raise Conflict(f"The client already has a {data['return_type']} return for {data['tax_year']}",
                       [FieldError("return_type", "duplicate", f"existing return {duplicate[0]}")])
    tax_return = TaxReturn(
        id=uuid.uuid4(), firm_id=client.firm_id, client_id=client.id, tax_year=data["tax_year"],
        return_type=data["return_type"], filing_status=data.get("filing_status"), status=sm.INITIAL.value,
        assigned_preparer_id=preparer_id, extension_filed=False,
        due_date=due_date(data["return_type"], data["tax_year"]), priority=data.get("priority") or "normal",
        federal_status="not_started", state_filings=[],
    )
    ctx.session.add(tax_return)
    await ctx.session.flush()
    await ctx.audit("return.create", "tax_return", tax_return.id, client_id=client.id,
                    details={"tax_year": tax_return.tax_year, "return_type": tax_return.return_type})
    return tax_return, client


# Fields whose change the workflow must hear about (assignee for reminders, deadline for timers).
WORKFLOW_FIELDS = frozenset({"assigned_preparer_id", "assigned_reviewer_id", "extension_filed"})


# The return's data the approval covers: what the reviewer checked and the client signs on Form 8879. Priority,
# assignees, the extension (its own rule: until filed) and notes are how staff run the work, not the return.
FROZEN_FIELDS = ("filing_status", "estimated_refund", "estimated_tax_due")


def check_not_frozen(tax_return: TaxReturn, what: str) -> None:
    """Refuse a change to approved data (issue 13, medium 9). The return is sent back to review explicitly, by
    the `reopen` transition through its workflow, rather than by the PATCH itself: a data write committed to
    Postgres cannot be one step with the workflow's transition, and data changed under an approval whose
    transition then failed would be the hole this closes."""
    if tax_return.status in sm.APPROVED_OR_LATER:
        raise BusinessRuleViolation(f"The return is {tax_return.status}: {what} cannot change once the return is "
                                    f"approved. {sm.reopen_hint(tax_return.status)}", code="return_approved")


async def update_return(ctx: ServiceContext, return_id: uuid.UUID, changes: dict) -> tuple[TaxReturn, Client]:
    policy.require(ctx.principal, "return.update")
    tax_return, client = await load_visible_return(ctx, return_id)
    if {"assigned_preparer_id", "assigned_reviewer_id"} & changes.keys():
        policy.require(ctx.principal, "return.assign")
    if changes.get("assigned_preparer_id") is not None:
        await _check_staff(ctx, changes["assigned_preparer_id"], "assigned_preparer_id",
                           frozenset({"preparer", "ea_cpa"}))
    if changes.get("assigned_reviewer_id") is not None:
        await _check_staff(ctx, changes["assigned_reviewer_id"], "assigned_reviewer_id",
                           frozenset({"reviewer", "ea_cpa"}))
    if "filing_status" in changes:
        _check_filing_status(tax_return.return_type, changes["filing_status"])
    # A value sent unchanged is no change (a client re-sending the whole record).
    frozen = [name for name in FROZEN_FIELDS if name in changes and changes[name] != getattr(tax_return, name)]
    if frozen:
        check_not_frozen(tax_return, ", ".join(frozen))
    notes = changes.pop("preparer_notes", None)
    if "extension_filed" in changes:
        if tax_return.status in sm.FILED_OR_LATER:
            raise BusinessRuleViolation("An extension cannot change once the return is filed", code="already_filed")
        if changes["extension_filed"]:
            changes["extension_date"] = extended_due_date(tax_return.return_type, tax_return.tax_year)
        else:
            changes["extension_date"] = None
    for name, value in changes.items():
        setattr(tax_return, name, value)
    if notes is not None:
        await _apply_notes(ctx, tax_return, notes)
    tax_return.updated_at = datetime.now(timezone.utc)
    await ctx.session.flush()
    await ctx.audit("return.update", "tax_return", tax_return.id, client_id=client.id,
                    details={"fields": sorted(changes) + (["preparer_notes"] if notes is not None else [])})
    return tax_return, client


async def _apply_notes(ctx: ServiceContext, tax_return: TaxReturn, notes: list[dict]) -> None:
    """Appendix B's nested notes: an item without id adds a note; with id it edits it, or deletes it when
    `deleted` is true. Staff only (clients never see notes)."""
    if not ctx.principal.is_staff:
        raise Forbidden("Only staff write preparer notes")
    for index, item in enumerate(notes):
        if item.get("document_id") is not None:
            await documents.check_client_documents(ctx, tax_return.client_id, [item["document_id"]],
                                                   f"preparer_notes.{index}.document_id")
        if item.get("id") is None:
            if not item.get("note_text"):
                raise BusinessRuleViolation("A new note needs note_text", [
                    FieldError(f"preparer_notes.{index}.note_text", "required", "note_text is required")])
            ctx.session.add(PreparerNote(id=uuid.uuid4(), return_id=tax_return.id, note_text=item["note_text"],
                                         document_id=item.get("document_id"), author_id=ctx.principal.subject_id))
            continue
        note = await ctx.session.get(PreparerNote, item["id"])
        if note is None or note.return_id != tax_return.id or note.deleted_at is not None:
            raise NotFound("Preparer note")
        # A note speaks for its author: only they (or an admin) reword or remove it; others add their own.
        if note.author_id != ctx.principal.subject_id and ctx.principal.role != Role.ADMIN:
            raise Forbidden("Only the note's author or an admin changes or deletes a preparer note")
        if item.get("deleted"):
            note.deleted_at = datetime.now(timezone.utc)
        else:
            for name in ("note_text", "document_id"):
                if name in item and item[name] is not None:
                    setattr(note, name, item[name])
            note.updated_at = datetime.now(timezone.utc)


async def delete_return(ctx: ServiceContext, return_id: uuid.UUID) -> TaxReturn:
    policy.require(ctx.principal, "return.delete")
    tax_return, client = await load_visible_return(ctx, return_id)
    if tax_return.status in sm.FILED_OR_LATER:
        raise BusinessRuleViolation("A return that has been filed cannot be deleted", code="already_filed")
    tax_return.deleted_at = datetime.now(timezone.utc)
    await ctx.audit("return.delete", "tax_return", tax_return.id, client_id=client.id)
    return tax_return


async def get_return(ctx: ServiceContext, return_id: uuid.UUID) -> tuple[TaxReturn, Client]:
    policy.require(ctx.principal, "return.read")
    tax_return, client = await load_visible_return(ctx, return_id)
    await ctx.audit("return.read", "tax_return", tax_return.id, client_id=client.id)
    return tax_return, client


async def history(ctx: ServiceContext, return_id: uuid.UUID) -> list[LifecycleHistory]:
    return await lifecycle_history.entries(ctx.session, sm.LIFECYCLE, return_id)


async def preparer_notes(ctx: ServiceContext, return_id: uuid.UUID) -> list[PreparerNote]:
    rows = await ctx.session.execute(
        select(PreparerNote).where(PreparerNote.return_id == return_id, PreparerNote.deleted_at.is_(None))
        .order_by(PreparerNote.created_at, PreparerNote.id))
    return list(rows.scalars())


async def pending_question_count(ctx: ServiceContext, return_id: uuid.UUID) -> int:
    return (await ctx.session.execute(select(func.count()).select_from(Question).where(
        Question.return_id == return_id, Question.status == "pending"))).scalar_one()


async def guard_facts(ctx: ServiceContext, tax_return: TaxReturn, action: str) -> sm.GuardFacts:
    """What the guard of `action` (a known action) reads besides the status."""
    pending = await pending_question_count(ctx, tax_return.id) if sm.LIFECYCLE.guard_reads(action, sm.PENDING_QUESTIONS) else None
    return sm.GuardFacts(actor_id=ctx.principal.user_id, assigned_preparer_id=tax_return.assigned_preparer_id,
                         pending_questions=pending)


def days_in_status(tax_return: TaxReturn, now: datetime) -> int:
    return max((now - tax_return.status_entered_at).days, 0)


# ---- analyses (spec §5.8–5.9) -----------------------------------------------------------------------------

ANALYSIS_ESTIMATE = timedelta(minutes=2)


async def request_analysis(ctx: ServiceContext, return_id: uuid.UUID, analysis_type: str,
                           include_prior_year: bool) -> tuple[TaxReturn, AiAnalysis]:
    """The analysis row, in status processing; the caller commits, then hands it to the workflow."""
    policy.require(ctx.principal, "return.analyze")
    tax_return, client = await load_visible_return(ctx, return_id)
    if tax_return.status in sm.FINAL:
        raise Conflict("The return is complete; there is nothing left to analyse")
    analysis = AiAnalysis(id=uuid.uuid4(), firm_id=tax_return.firm_id, return_id=tax_return.id,
                          analysis_type=analysis_type, include_prior_year_comparison=include_prior_year,
                          status="processing", findings=[], suggested_questions=[],
                          requested_by=ctx.principal.user_id)
    ctx.session.add(analysis)
    await ctx.session.flush()
    await ctx.audit("return.analyze", "ai_analysis", analysis.id, client_id=client.id,
                    details={"return_id": str(tax_return.id), "analysis_type": analysis_type})
    return tax_return, analysis


async def load_analysis(ctx: ServiceContext, return_id: uuid.UUID, analysis_id: uuid.UUID) -> AiAnalysis:
    analysis = await ctx.session.get(AiAnalysis, analysis_id)
    if analysis is None or analysis.return_id != return_id:
        raise NotFound("Analysis")
    return analysis


async def get_analysis(ctx: ServiceContext, return_id: uuid.UUID, analysis_id: uuid.UUID) -> AiAnalysis:
    policy.require(ctx.principal, "return.analyze")
    tax_return, _ = await load_visible_return(ctx, return_id)
    return await load_analysis(ctx, tax_return.id, analysis_id)
