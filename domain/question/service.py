"""Client questions on a return (spec §7): staff (or an analysis) ask, the client answers, staff may skip.

When the last pending question of a return is answered or skipped, the caller tells the return's
workflow `client_responded` (it applies only while the return is pending_client_response).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import func, select

from domain import policy
from domain.context import ServiceContext
from domain.document import service as documents
from domain.errors import BusinessRuleViolation, Conflict, FieldError, NotFound
from domain.listing import Filterable, ListQuery, ListSpec, Page, paginate
from domain.question.models import Question
from domain.tax_return import service as returns
from domain.tax_return import state_machine as sm
from domain.tax_return.models import TaxReturn

STATUSES = frozenset({"pending", "answered", "skipped"})
PRIORITIES = ("low", "medium", "high")  # api/schemas/question.py reads it

QUESTION_LIST_SPEC = ListSpec(
    filters={
        "status": Filterable(Question.status, choices=STATUSES),
        "priority": Filterable(Question.priority, choices=frozenset(PRIORITIES)),
        "source": Filterable(Question.source, choices=frozenset({"preparer", "ai_generated"})),
        "created_at": Filterable(Question.created_at, datetime, ("gte", "lte")),
    },
    sortable={"created_at": Question.created_at, "updated_at": Question.updated_at},
    id_column=Question.id,
    default_sort="created_at",
    output_fields=frozenset({"id", "return_id", "question_text", "context", "category", "priority", "status",
                             "source", "created_by", "created_at", "answered_at", "answer_text",
                             "answer_attachments", "analysis_id"}),
)


async def list_questions(ctx: ServiceContext, return_id: uuid.UUID, query: ListQuery) -> Page:
    policy.require(ctx.principal, "question.list")
    tax_return, client = await returns.load_visible_return(ctx, return_id)
    page = await paginate(ctx.session, select(Question).where(Question.return_id == tax_return.id), query,
                          QUESTION_LIST_SPEC)
    await ctx.audit("question.list", "tax_return", tax_return.id, client_id=client.id)
    return page


async def _load(ctx: ServiceContext, tax_return: TaxReturn, question_id: uuid.UUID, lock: bool = False) -> Question:
    question = await ctx.session.get(Question, question_id, with_for_update=lock)
    if question is None or question.return_id != tax_return.id:
        raise NotFound("Question")
    return question


async def get_question(ctx: ServiceContext, return_id: uuid.UUID, question_id: uuid.UUID) -> Question:
    policy.require(ctx.principal, "question.list")
    tax_return, client = await returns.load_visible_return(ctx, return_id)
    question = await _load(ctx, tax_return, question_id)
    await ctx.audit("question.read", "question", question.id, client_id=client.id)
    return question


async def create_question(ctx: ServiceContext, return_id: uuid.UUID, data: dict) -> Question:
    policy.require(ctx.principal, "question.create")
    tax_return, client = await returns.load_visible_return(ctx, return_id)
    if tax_return.status in sm.FILED_OR_LATER:
        raise BusinessRuleViolation("The return has been filed; questions are closed", code="already_filed")
    source, analysis_id = "preparer", data.get("analysis_id")
    if analysis_id is not None:
        analysis = await returns.load_analysis(ctx, tax_return.id, analysis_id)
        wanted = str(data["suggested_question_id"])
        suggestion = next((q for q in analysis.suggested_questions if q["id"] == wanted), None)
        if suggestion is None:
            raise BusinessRuleViolation("The analysis has no such suggested question", [
                FieldError("suggested_question_id", "invalid_reference", "not a suggestion of this analysis")])
        data["question_text"] = data["question_text"] or suggestion["question"]
        data["context"] = data.get("context") or suggestion["context"]
        source = "ai_generated"
    question = Question(
        id=uuid.uuid4(), firm_id=tax_return.firm_id, return_id=tax_return.id, client_id=client.id,
        question_text=data["question_text"], context=data.get("context"), category=data.get("category"),
        priority=data.get("priority") or "medium", status="pending", source=source, analysis_id=analysis_id,
        created_by=ctx.principal.user_id, answer_attachments=[])
    ctx.session.add(question)
    await ctx.session.flush()
    await ctx.audit("question.create", "question", question.id, client_id=client.id,
                    details={"return_id": str(tax_return.id), "source": source})
    return question


async def _pending_left(ctx: ServiceContext, return_id: uuid.UUID) -> int:
    return (await ctx.session.execute(select(func.count()).select_from(Question).where(
        Question.return_id == return_id, Question.status == "pending"))).scalar_one()


async def answer_question(ctx: ServiceContext, return_id: uuid.UUID, question_id: uuid.UUID,
                          answer_text: str, attachments: list[uuid.UUID]) -> tuple[Question, bool]:
    """The answered question, and whether it was the return's last pending one."""
    policy.require(ctx.principal, "question.answer")
    tax_return, client = await returns.load_visible_return(ctx, return_id)
    question = await _load(ctx, tax_return, question_id, lock=True)
    if question.status != "pending":
        raise Conflict(f"The question is already {question.status}")
    attachments = list(dict.fromkeys(attachments))  # the same document attached twice is attached once
    await documents.check_client_documents(ctx, client.id, attachments, "attachments")
    question.status, question.answer_text = "answered", answer_text
    question.answer_attachments = [str(a) for a in attachments]
    question.answered_at = question.updated_at = datetime.now(timezone.utc)
    await ctx.session.flush()
    await ctx.audit("question.answer", "question", question.id, client_id=client.id)
    return question, await _pending_left(ctx, tax_return.id) == 0


async def skip_question(ctx: ServiceContext, return_id: uuid.UUID, question_id: uuid.UUID,
                        reason: str) -> tuple[Question, bool]:
    policy.require(ctx.principal, "question.skip")
    tax_return, client = await returns.load_visible_return(ctx, return_id)
    question = await _load(ctx, tax_return, question_id, lock=True)
    if question.status != "pending":
        raise Conflict(f"The question is already {question.status}")
    question.status, question.skip_reason, question.skipped_by = "skipped", reason, ctx.principal.user_id
    question.skipped_at = question.updated_at = datetime.now(timezone.utc)
    await ctx.session.flush()
    await ctx.audit("question.skip", "question", question.id, client_id=client.id)
    return question, await _pending_left(ctx, tax_return.id) == 0
