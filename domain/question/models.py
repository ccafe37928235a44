"""Questions to the client about a return (spec §7), written by staff or suggested by AI analysis."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, created_at_column, updated_at_column, uuid_pk


class Question(Base):
    __tablename__ = "questions"
    __table_args__ = (Index("ix_questions_return_status", "return_id", "status", "created_at", "id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    return_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("tax_returns.id"), nullable=False)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("clients.id"), nullable=False)
    question_text: Mapped[str] = mapped_column(Text, nullable=False)
    context: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(40))
    priority: Mapped[str] = mapped_column(String(10), nullable=False, default="medium")
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending")
    source: Mapped[str] = mapped_column(String(20), nullable=False)  # preparer | ai_generated
    analysis_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("ai_analyses.id"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    answer_text: Mapped[str | None] = mapped_column(Text)
    answer_attachments: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    skip_reason: Mapped[str | None] = mapped_column(Text)
    skipped_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    skipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
