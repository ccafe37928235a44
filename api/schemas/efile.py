"""Request bodies and read models of the e-filing API (spec §11.1–11.5)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field

from api.openapi import Meta
from api.schemas.base import RequestModel

# A return figure (income, AGI and tax can be negative: a loss), to the cent.
Figure = Annotated[Decimal, Field(max_digits=14, decimal_places=2)]


class ReturnFigures(RequestModel):
    """The return's figures as transmitted: what Pub 1345's retransmission tolerance compares."""

    total_income: Figure | None = None
    agi: Figure | None = None
    total_tax: Figure | None = None


class TransmitRequest(RequestModel):
    jurisdictions: list[Annotated[str, Field(min_length=2, max_length=10)]] = Field(min_length=1, max_length=10)
    figures: ReturnFigures | None = None


class ResubmitRequest(RequestModel):
    notes: str | None = Field(None, max_length=2000)
    # The corrected figures; omitted: unchanged.
    figures: ReturnFigures | None = None


# ---- read models ---------------------------------------------------------------------------------------------

class AcknowledgementOut(BaseModel):
    id: str
    ack_type: str
    confirmation_number: str | None
    received_at: datetime
    received_via: str


class RejectionOut(BaseModel):
    id: str
    submission_id: str
    error_code: str
    category: str
    severity: str
    description: str
    data_value: str | None
    resolution_guidance: str
    auto_correctable: bool
    created_at: datetime


class TransmissionOut(BaseModel):
    id: str
    return_id: str
    jurisdiction: str
    transmission_type: str
    submission_id: str
    status: str
    attempts: int
    federal_transmission_id: str | None
    previous_transmission_id: str | None
    transmitted_at: datetime | None
    acknowledged_at: datetime | None
    confirmation_number: str | None
    acceptance_date: date | None
    filing_date: date | None
    filing_date_kept: bool
    perfection_deadline: date | None
    paper_filing_required: bool
    escalated_at: datetime | None
    resolved_at: datetime | None


class TransmissionDetailOut(TransmissionOut):
    acknowledgement: AcknowledgementOut | None
    rejection: RejectionOut | None  # the first rejection of the current Submission ID


class TransmissionList(BaseModel):
    data: list[TransmissionOut]
    meta: Meta


class TransmissionDetail(BaseModel):
    data: TransmissionDetailOut
    meta: Meta


class TransmitOut(BaseModel):
    transmissions: list[TransmissionOut]


class TransmitAnswer(BaseModel):
    data: TransmitOut
    meta: Meta


class ResubmitOut(BaseModel):
    transmissions: list[TransmissionOut]
    filing_date_kept: bool
    filing_date_note: str
    beyond_tolerance: list[str]


class ResubmitAnswer(BaseModel):
    data: ResubmitOut
    meta: Meta


class RejectionsOut(BaseModel):
    transmission_id: str
    jurisdiction: str
    rejections: list[RejectionOut]


class RejectionsAnswer(BaseModel):
    data: RejectionsOut
    meta: Meta
