"""Request bodies and read models of what is sent for e-signature: Form 7216 consents and engagement letters
(spec §10), with their envelopes (spec §3.2) and the problem statuses each operation answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, Field

from api.schemas.base import PatchModel, RequestModel, SingleLine, UtcDatetime, one_of
from domain.consent.models import CONSENT_KINDS
from domain.disclosure.basis import PURPOSES
from domain.engagement.models import ENGAGEMENT_TYPES, FEE_TYPES

T = TypeVar("T")
Year = Annotated[int, Field(ge=2000, le=2100)]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]


def problem_responses(*statuses: int) -> dict:
    """`responses=` of an operation: each status answers application/problem+json (RFC 7807)."""
    return {status: {"description": "Problem (RFC 7807)", "content": {"application/problem+json": {}}}
            for status in statuses}


class One(BaseModel, Generic[T]):
    data: T
    meta: dict[str, Any]


class Many(BaseModel, Generic[T]):
    data: list[T]
    meta: dict[str, Any]
    pagination: dict[str, Any]


# ---- consents --------------------------------------------------------------------------------------------------

class ConsentCreate(RequestModel):
    tax_year: Year
    consent_scope: SingleLine = Field(min_length=1, max_length=200)
    # The recipient a disclosure consent names (required for kind `disclosure`).
    third_party_name: SingleLine | None = Field(None, min_length=1, max_length=200)
    disclosure_purpose: str = Field(min_length=1, max_length=500, description="the purpose in the client's words")
    kind: one_of(CONSENT_KINDS) = Field("disclosure", description="separate documents for 1040 filers")
    purpose: one_of(PURPOSES) | None = Field(
        None, description="the gate's purpose code; implied for a recipient with one purpose (SurePrep)")
    information_covered: str | None = Field(None, min_length=1, max_length=500,
                                            description="default: what the purpose's path discloses")
    expires_at: UtcDatetime | None = Field(None, description="default: one year from the signature")


class SignatureOut(BaseModel):
    id: uuid.UUID
    status: str
    provider: str
    provider_request_id: str | None
    signer_name: str
    signer_email: str
    document_sha256: str
    signed_document_id: uuid.UUID | None
    signed_document_sha256: str | None
    sent_at: datetime | None
    completed_at: datetime | None
    declined_reason: str | None
    evidence: dict[str, Any] | None


class ConsentOut(BaseModel):
    id: uuid.UUID
    client_id: uuid.UUID
    tax_year: int
    kind: str
    consent_scope: str
    third_party_name: str
    disclosure_purpose: str
    purpose: str | None
    information_covered: str | None
    template_version: str | None
    status: str
    created_at: datetime
    sent_at: datetime | None
    signed_at: datetime | None
    declined_at: datetime | None
    expires_at: datetime | None
    requested_expires_at: datetime | None
    revoked_at: datetime | None
    signature: SignatureOut | None = None


class SendOut(BaseModel):
    id: uuid.UUID
    status: str
    signature_request_id: uuid.UUID | None
    sent_at: datetime | None


# ---- engagements -----------------------------------------------------------------------------------------------

class FeeStructure(RequestModel):
    type: one_of(FEE_TYPES) = "fixed"
    base_fee: Money | None = None
    additional_forms: Money | None = None
    hourly_rate: Money | None = None
    retainer: Money | None = None


Service = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-. ]+$")]


class EngagementCreate(RequestModel):
    client_id: uuid.UUID
    tax_year: Year
    engagement_type: one_of(ENGAGEMENT_TYPES)
    services: list[Service] = Field(min_length=1, max_length=30)
    fee_structure: FeeStructure


class EngagementUpdate(PatchModel):
    not_clearable = frozenset({"engagement_type", "services", "fee_structure"})

    engagement_type: one_of(ENGAGEMENT_TYPES) | None = None
    services: list[Service] | None = Field(None, min_length=1, max_length=30)
    fee_structure: FeeStructure | None = None


class FeeStructureOut(BaseModel):
    """Numbers, as spec §10.2 shows them (stored exact, as decimal strings)."""

    type: str
    base_fee: float | None = None
    additional_forms: float | None = None
    hourly_rate: float | None = None
    retainer: float | None = None


class EngagementOut(BaseModel):
    id: uuid.UUID
    client_id: uuid.UUID
    tax_year: int
    engagement_type: str
    services: list[str]
    status: str
    fee_structure: FeeStructureOut
    signature_request_id: uuid.UUID | None
    sent_at: datetime | None
    signed_at: datetime | None
    declined_at: datetime | None
    expired_at: datetime | None
    document_url: str | None
    created_at: datetime
    updated_at: datetime
