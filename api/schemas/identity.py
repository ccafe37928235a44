"""Request bodies and read models of the identity verification API (spec §12)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from api.openapi import ReadModel
from api.schemas.base import RequestModel, UtcDatetime, one_of
from domain.identity.service import CLIENT_STATUS, METHODS, REVIEW_DECISIONS

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


STEP_STATUSES = ("pending", "scheduled", "needs_review", "completed", "failed", "expired")


class StepOut(ReadModel):
    """A step as its verification records it: the facts a step gathered are present once it has them."""

    step: one_of(METHODS)
    status: one_of(STEP_STATUSES)
    confidence: float | None = Field(None, description="The government ID's confidence (Persona), 0 to 1")
    inquiry_id: str | None = Field(None, description="The government ID's Persona inquiry")
    scheduled_time: datetime | None = Field(None, description="The video call's time")
    completed_at: datetime | None = None
    reviewed_by: uuid.UUID | None = Field(None, description="The staff member who decided a review")


class Verification(ReadModel):
    verification_id: uuid.UUID
    client_id: uuid.UUID
    tier: int = Field(ge=1, le=3)
    status: one_of(tuple(CLIENT_STATUS))
    current_step: one_of(METHODS) | None
    confidence_score: float | None
    steps: list[StepOut]
    expires_at: datetime
    completed_at: datetime | None
    client_identity_verification_status: one_of(("unverified", *dict.fromkeys(CLIENT_STATUS.values())))


class CodeSent(ReadModel):
    sent: bool
    channel: one_of(("email", "phone"))
    delivery: one_of(("email", "sms", "voice"))
    expires_at: datetime


class GovernmentIdInquiry(ReadModel):
    persona_inquiry_url: str = Field(description="Persona's hosted flow")
    expires_at: datetime


class VideoScheduled(ReadModel):
    session_id: uuid.UUID
    scheduled_time: datetime
    meet_link: str
    calendar_invite_sent: bool
