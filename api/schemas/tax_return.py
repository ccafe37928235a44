"""Return request bodies (spec §5)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import Field

from api.openapi import Amount, ReadModel
from api.schemas.invoice import Money
from api.schemas.base import PatchModel, RequestModel, one_of
from domain.tax_calendar import RETURN_TYPES
from domain.tax_return.service import ANALYSIS_TYPES, EARLIEST_TAX_YEAR, FILING_STATUSES, PRIORITIES
from domain.tax_return.state_machine import BY_ACTION, Status

ReturnType = one_of(RETURN_TYPES)
FilingStatus = one_of(FILING_STATUSES)
Priority = one_of(PRIORITIES)


class ReturnCreate(RequestModel):
    client_id: uuid.UUID
    tax_year: int = Field(json_schema_extra={"minimum": EARLIEST_TAX_YEAR}, description="At most the current year")
    return_type: ReturnType
    filing_status: FilingStatus | None = None
    assigned_preparer_id: uuid.UUID | None = None
    priority: Priority | None = None


class NoteChange(RequestModel):
    """Without id: a new note. With id: edit it, or delete it with `deleted: true`."""

    id: uuid.UUID | None = None
    note_text: str | None = Field(None, min_length=1, max_length=10_000)
    document_id: uuid.UUID | None = None
    deleted: bool = False


class ReturnUpdate(PatchModel):
    not_clearable = frozenset({"priority", "extension_filed", "preparer_notes"})
    filing_status: FilingStatus | None = None
    priority: Priority | None = None
    assigned_preparer_id: uuid.UUID | None = None
    assigned_reviewer_id: uuid.UUID | None = None
    extension_filed: bool | None = None
    estimated_refund: Money | None = None
    estimated_tax_due: Money | None = None
    preparer_notes: list[NoteChange] | None = Field(None, max_length=50)


class TransitionBody(RequestModel):
    # The lifecycle's actions (docs/tax_return.md): any other is a 400 that lists them, as before.
    action: one_of(sorted(BY_ACTION))
    notes: str | None = Field(None, max_length=2000)


class AnalyzeBody(RequestModel):
    analysis_type: one_of(ANALYSIS_TYPES) = "comprehensive"
    include_prior_year_comparison: bool = True


# ---- read models ----------------------------------------------------------------------------------------------
# A portal client sees less of a return than staff (docs/tax_return.md, "What a portal client sees"): the fields
# only staff are answered are optional here, described "staff only".

ReturnStatus = one_of(s.value for s in Status)
STAFF_ONLY = "Staff only: absent from a portal client's answer"


class ReturnSummary(ReadModel):
    """A return as listed (RETURN_LIST_SPEC.output_fields; a client's list has PORTAL_RETURN_LIST_SPEC's)."""

    id: uuid.UUID
    client_id: uuid.UUID
    client_name: str | None
    tax_year: int
    return_type: ReturnType
    filing_status: FilingStatus | None
    status: ReturnStatus
    progress_percentage: int = Field(ge=0, le=100)
    assigned_preparer_id: uuid.UUID | None = Field(None, description=STAFF_ONLY)
    assigned_reviewer_id: uuid.UUID | None = Field(None, description=STAFF_ONLY)
    extension_filed: bool
    due_date: date = Field(description="The deadline in force: the extended one once an extension is filed")
    stuck_since: datetime | None = Field(None, description=STAFF_ONLY)
    created_at: datetime
    updated_at: datetime


class HistoryEntry(ReadModel):
    from_status: ReturnStatus | None
    to_status: ReturnStatus | None
    transitioned_at: datetime
    action: str | None = Field(None, description=STAFF_ONLY)
    transitioned_by: uuid.UUID | None = Field(None, description=STAFF_ONLY)
    actor_role: str | None = Field(None, description=STAFF_ONLY)
    notes: str | None = Field(None, description=STAFF_ONLY)


class PreparerNoteOut(ReadModel):
    id: uuid.UUID
    document_id: uuid.UUID | None
    note_text: str
    author_id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class ReturnDetail(ReadModel):
    id: uuid.UUID
    client_id: uuid.UUID
    client_name: str | None
    tax_year: int
    return_type: ReturnType
    filing_status: FilingStatus | None
    status: ReturnStatus
    progress_percentage: int = Field(ge=0, le=100)
    assigned_preparer_id: uuid.UUID | None = Field(None, description=STAFF_ONLY)
    assigned_reviewer_id: uuid.UUID | None = Field(None, description=STAFF_ONLY)
    extension_filed: bool
    extension_date: date | None
    due_date: date
    original_due_date: date
    priority: Priority | None = Field(None, description=STAFF_ONLY)
    estimated_refund: Amount | None = Field(None, description=STAFF_ONLY)
    estimated_tax_due: Amount | None = Field(None, description=STAFF_ONLY)
    federal_status: str
    state_filings: list[dict[str, Any]]
    stuck_since: datetime | None = Field(None, description=STAFF_ONLY)
    workflow_history: list[HistoryEntry]
    preparer_notes: list[PreparerNoteOut] | None = Field(None, description=STAFF_ONLY + " (Appendix B)")
    created_at: datetime
    updated_at: datetime


class TransitionResult(ReadModel):
    id: uuid.UUID
    status: ReturnStatus
    previous_status: ReturnStatus
    transitioned_at: datetime


class WorkflowState(ReadModel):
    current_status: ReturnStatus
    entered_at: datetime | None
    days_in_status: int
    assigned_to: uuid.UUID | None = Field(None, description=STAFF_ONLY)
    stuck_since: datetime | None = Field(None, description=STAFF_ONLY)
    history: list[HistoryEntry]


class AnalysisAccepted(ReadModel):
    analysis_id: uuid.UUID
    status: str = Field(examples=["processing"])
    estimated_completion: datetime


class FindingOut(ReadModel):
    type: str = Field(examples=["missing_document"])
    severity: one_of(("low", "medium", "high"))
    description: str
    recommendation: str


class SuggestedQuestionOut(ReadModel):
    id: uuid.UUID = Field(description="Pass as `suggested_question_id` to POST …/questions")
    question: str
    context: str


class AnalysisOut(ReadModel):
    id: uuid.UUID
    status: str = Field(examples=["processing", "completed", "failed"])
    analysis_type: one_of(ANALYSIS_TYPES)
    analyzer: str | None
    created_at: datetime
    completed_at: datetime | None
    findings: list[FindingOut]
    suggested_questions: list[SuggestedQuestionOut]
    error: str | None
