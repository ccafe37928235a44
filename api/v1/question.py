"""Client questions on a return (spec §7)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from api import envelope
from api.deps import Ctx, State
from api.json_route import JSONRoute
from api.openapi import One, answers, list_of
from api.schemas.question import AnswerBody, QuestionCreate, QuestionOut, SkipBody
from api.v1.client import iso
from domain.listing import parse_list_query
from domain.question import service
from domain.question.models import Question
from orchestration import tax_return as workflow

router = APIRouter(route_class=JSONRoute, tags=["questions"])


def question_out(q: Question) -> dict:
    return {
        "id": str(q.id), "return_id": str(q.return_id), "question_text": q.question_text, "context": q.context,
        "category": q.category, "priority": q.priority, "status": q.status, "source": q.source,
        "analysis_id": str(q.analysis_id) if q.analysis_id else None,
        "created_by": str(q.created_by) if q.created_by else None, "created_at": iso(q.created_at),
        "answered_at": iso(q.answered_at), "answer_text": q.answer_text, "answer_attachments": q.answer_attachments,
    }


async def _after_last_answer(ctx, state, return_id: uuid.UUID, how: str) -> None:
    """The client has nothing left to answer: tell the workflow (it ignores this outside
    pending_client_response), through the outbox so the message survives a failed send. Committed first,
    so the transition sees the answer."""
    await state.outbox.commit_and_send(ctx.session, workflow.system_event(return_id, workflow.TaxReturnSystemEvent(
        action="client_responded", source="question", notes=f"last pending question {how}")))


@router.get("/returns/{return_id}/questions", summary="List a return's questions", operation_id="list_questions",
            **answers(list_of(QuestionOut, service.QUESTION_LIST_SPEC), 403, 404))
async def list_questions(return_id: uuid.UUID, request: Request, ctx: Ctx):
    """Filter by status (pending, answered, skipped), priority, source."""
    query = parse_list_query(list(request.query_params.multi_items()), service.QUESTION_LIST_SPEC)
    return envelope.page(await service.list_questions(ctx, return_id, query), query, question_out)


@router.get("/returns/{return_id}/questions/{question_id}", summary="Get a question", operation_id="get_question",
            **answers(One(QuestionOut), 403, 404))
async def get_question(return_id: uuid.UUID, question_id: uuid.UUID, ctx: Ctx):
    return envelope.one(question_out(await service.get_question(ctx, return_id, question_id)))


@router.post("/returns/{return_id}/questions", summary="Ask the client a question", operation_id="create_question",
             **answers(One(QuestionOut), 403, 404, 409, 422, status=201))
async def create_question(return_id: uuid.UUID, body: QuestionCreate, ctx: Ctx):
    """Give `question_text`, or turn an analysis's suggestion into a question with `analysis_id` and
    `suggested_question_id` (source `ai_generated`)."""
    return envelope.one(question_out(await service.create_question(ctx, return_id, body.model_dump())))


@router.post("/returns/{return_id}/questions/{question_id}/answer", summary="Answer a question (client)",
             operation_id="answer_question", **answers(One(QuestionOut), 403, 404, 409, 422))
async def answer_question(return_id: uuid.UUID, question_id: uuid.UUID, body: AnswerBody, ctx: Ctx, state: State):
    """When this answers the last pending question, the return moves on (client_responded)."""
    question, last = await service.answer_question(ctx, return_id, question_id, body.answer_text, body.attachments)
    if last:
        await _after_last_answer(ctx, state, question.return_id, "answered")
    return envelope.one(question_out(question))


@router.post("/returns/{return_id}/questions/{question_id}/skip", summary="Skip a question",
             operation_id="skip_question",
             **answers(One(QuestionOut), 403, 404, 409, 422))
async def skip_question(return_id: uuid.UUID, question_id: uuid.UUID, body: SkipBody, ctx: Ctx, state: State):
    question, last = await service.skip_question(ctx, return_id, question_id, body.reason)
    if last:
        await _after_last_answer(ctx, state, question.return_id, "skipped")
    return envelope.one(question_out(question))
