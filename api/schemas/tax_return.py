"""Return request bodies (spec §5)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from pydantic import Field

from api.schemas.base import RequestModel, one_of
from domain.tax_calendar import RETURN_TYPES
from domain.tax_return.service import ANALYSIS_TYPES, FILING_STATUSES, PRIORITIES

ReturnType = one_of(RETURN_TYPES)
FilingStatus = one_of(FILING_STATUSES)
Priority = one_of(PRIORITIES)
Money = Decimal


class ReturnCreate(RequestModel):
    client_id: uuid.UUID
    tax_year: int
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


class ReturnUpdate(RequestModel):
    filing_status: FilingStatus | None = None
    priority: Priority | None = None
    assigned_preparer_id: uuid.UUID | None = None
    assigned_reviewer_id: uuid.UUID | None = None
    extension_filed: bool | None = None
    estimated_refund: Money | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    estimated_tax_due: Money | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    preparer_notes: list[NoteChange] | None = Field(None, max_length=50)


class TransitionBody(RequestModel):
    action: str = Field(min_length=1, max_length=40)
    notes: str | None = Field(None, max_length=2000)


class AnalyzeBody(RequestModel):
    analysis_type: one_of(ANALYSIS_TYPES) = "comprehensive"
    include_prior_year_comparison: bool = True
