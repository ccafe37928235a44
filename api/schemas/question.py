"""Question request bodies (spec §7)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field, model_validator

from api.openapi import ReadModel
from api.schemas.base import RequestModel, one_of
from domain.question.service import PRIORITIES, STATUSES


class QuestionCreate(RequestModel):
    """Either `question_text`, or an analysis's suggested question (`analysis_id` + `suggested_question_id`),
    whose text and context are copied unless given."""

    question_text: str | None = Field(None, min_length=1, max_length=2000)
    context: str | None = Field(None, max_length=2000)
    category: str | None = Field(None, max_length=40)
    priority: one_of(PRIORITIES) = "medium"
    analysis_id: uuid.UUID | None = None
    suggested_question_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def text_or_suggestion(self) -> "QuestionCreate":
        if (self.analysis_id is None) != (self.suggested_question_id is None):
            raise ValueError("analysis_id and suggested_question_id go together")
        if self.question_text is None and self.analysis_id is None:
            raise ValueError("question_text is required unless a suggested question is given")
        return self


class AnswerBody(RequestModel):
    answer_text: str = Field(min_length=1, max_length=5000)
    attachments: list[uuid.UUID] = Field(default_factory=list, max_length=20)


class SkipBody(RequestModel):
    reason: str = Field(min_length=1, max_length=1000)


class QuestionOut(ReadModel):
    """A question as listed (QUESTION_LIST_SPEC.output_fields) and read."""

    id: uuid.UUID
    return_id: uuid.UUID
    question_text: str
    context: str | None
    category: str | None
    priority: one_of(PRIORITIES)
    status: one_of(sorted(STATUSES))
    source: one_of(("preparer", "ai_generated"))
    analysis_id: uuid.UUID | None
    created_by: uuid.UUID | None
    created_at: datetime
    answered_at: datetime | None
    answer_text: str | None
    answer_attachments: list[uuid.UUID]
