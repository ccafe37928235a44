"""Message request bodies (spec §8)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from api.openapi import ReadModel
from api.schemas.base import RequestModel, SingleLine


class MessageCreate(RequestModel):
    return_id: uuid.UUID | None = None
    subject: SingleLine = Field(min_length=1, max_length=200)  # the notification mail's subject
    body: str = Field(min_length=1, max_length=10_000)
    notify_email: bool = False


class MessageOut(ReadModel):
    """A message as listed (MESSAGE_LIST_SPEC.output_fields) and sent."""

    id: uuid.UUID
    client_id: uuid.UUID
    return_id: uuid.UUID | None
    direction: str = Field(examples=["outbound", "inbound"], description="outbound: staff to client")
    sender_type: str = Field(examples=["staff", "client"])
    sender_id: uuid.UUID
    sender_name: str | None
    subject: str
    body: str
    read_at: datetime | None
    created_at: datetime


class MessageRead(ReadModel):
    id: uuid.UUID
    read_at: datetime
