"""Message request bodies (spec §8)."""

from __future__ import annotations

import uuid

from pydantic import Field

from api.schemas.base import RequestModel, SingleLine


class MessageCreate(RequestModel):
    return_id: uuid.UUID | None = None
    subject: SingleLine = Field(min_length=1, max_length=200)  # the notification mail's subject
    body: str = Field(min_length=1, max_length=10_000)
    notify_email: bool = False
