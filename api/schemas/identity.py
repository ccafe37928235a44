"""Request bodies and read models of the identity verification API (spec §12)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from api.schemas.base import RequestModel, UtcDatetime, one_of
from api.schemas.efile import Meta
from domain.identity.service import METHODS, REVIEW_DECISIONS

Code = Annotated[str, Field(pattern=r"^[0-9]{6}$")]


class InitiateRequest(RequestModel):
    tier: int = Field(ge=1, le=3)
    methods: list[one_of(METHODS)] = Field(min_length=1, max_length=4)


class CodeRequest(RequestModel):
    code: Code


class PhoneSendRequest(RequestModel):
    method: one_of(("sms", "voice")) = "sms"


class VideoScheduleRequest(RequestModel):
    preferred_times: list[UtcDatetime] = Field(min_length=1, max_length=10)


class ReviewRequest(RequestModel):
    step: one_of(("government_id", "video"))
    decision: one_of(REVIEW_DECISIONS)
    notes: str | None = Field(None, max_length=2000)


class StepOut(BaseModel):
    step: str
    status: str
    confidence: float | None = None
    scheduled_time: str | None = None
    completed_at: str | None = None


class VerificationOut(BaseModel):
    verification_id: str
    client_id: str
    tier: int
    status: str
    current_step: str | None
    confidence_score: float | None
    steps: list[StepOut]
    expires_at: datetime
    completed_at: datetime | None
    client_identity_verification_status: str


class VerificationAnswer(BaseModel):
    data: VerificationOut
    meta: Meta


class CodeSentOut(BaseModel):
    sent: bool
    channel: str
    delivery: str
    expires_at: datetime


class CodeSentAnswer(BaseModel):
    data: CodeSentOut
    meta: Meta


class InquiryOut(BaseModel):
    persona_inquiry_url: str
    expires_at: datetime


class InquiryAnswer(BaseModel):
    data: InquiryOut
    meta: Meta


class VideoOut(BaseModel):
    session_id: str
    scheduled_time: datetime
    meet_link: str
    calendar_invite_sent: bool


class VideoAnswer(BaseModel):
    data: VideoOut
    meta: Meta
