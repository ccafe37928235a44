"""Request bodies and read models of the e-filing API (spec §11.1–11.5)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from api.openapi import ReadModel
from api.schemas.base import RequestModel, one_of
from domain.efile.rules import CATEGORIES, FEDERAL, FIGURES, STATES
from domain.efile.service import STATUSES as TRANSMISSION_STATUSES

# A return figure (income, AGI and tax can be negative: a loss), to the cent.
Figure = Annotated[Decimal, Field(max_digits=14, decimal_places=2)]


class ReturnFigures(RequestModel):
    """The return's figures as transmitted: what Pub 1345's retransmission tolerance compares."""

    total_income: Figure | None = None
    agi: Figure | None = None
    total_tax: Figure | None = None


# "federal" or a state's USPS code, as the transmission records it.
Jurisdiction = one_of((FEDERAL, *sorted(STATES)))


class TransmitRequest(RequestModel):
    # A state submission is linked to the federal one (MeF "fed/state"): "federal" is always among them (400).
    jurisdictions: list[Jurisdiction] = Field(min_length=1, max_length=10,
                                              json_schema_extra={"contains": {"const": FEDERAL}})
    figures: ReturnFigures | None = None


class ResubmitRequest(RequestModel):
    notes: str | None = Field(None, max_length=2000)
    # The corrected figures; omitted: unchanged.
    figures: ReturnFigures | None = None


# ---- read models ---------------------------------------------------------------------------------------------

class AcknowledgementOut(ReadModel):
    id: uuid.UUID
    ack_type: one_of(("accepted", "rejected"))
    confirmation_number: str | None
    received_at: datetime
    received_via: one_of(("webhook", "poll"))


class RejectionOut(ReadModel):
    id: uuid.UUID
    submission_id: str
    error_code: str = Field(examples=["IND-031-04"])
    category: one_of(CATEGORIES)
    severity: str
    description: str
    data_value: str | None
    resolution_guidance: str
    auto_correctable: bool
    created_at: datetime


class TransmissionOut(ReadModel):
    id: uuid.UUID
    return_id: uuid.UUID
    jurisdiction: Jurisdiction
    transmission_type: one_of(("original", "resubmission"))
    submission_id: str
    status: one_of(TRANSMISSION_STATUSES)
    attempts: int
    federal_transmission_id: uuid.UUID | None
    previous_transmission_id: uuid.UUID | None
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


class TransmissionDetail(TransmissionOut):
    acknowledgement: AcknowledgementOut | None
    rejection: RejectionOut | None = Field(description="The first rejection of the current Submission ID")


class Transmitted(ReadModel):
    """§11.3: one transmission per jurisdiction."""

    transmissions: list[TransmissionOut]


class Resubmitted(ReadModel):
    transmissions: list[TransmissionOut]
    filing_date_kept: bool = Field(description="true: resubmitted within the perfection period")
    filing_date_note: str
    beyond_tolerance: list[one_of(FIGURES)] = Field(description="The figures changed beyond the IRS tolerance")


class Rejections(ReadModel):
    transmission_id: uuid.UUID
    jurisdiction: Jurisdiction
    rejections: list[RejectionOut]
