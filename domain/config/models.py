"""Per-firm security configuration (spec §14.2), read on every sign-in."""

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, updated_at_column


class SystemConfig(Base):
    __tablename__ = "system_config"

    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), primary_key=True)
    session_timeout_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=30)
    mfa_required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    failed_login_lockout_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=5)
    # A return may not leave intake before its client's engagement letter for that tax year is signed.
    engagement_required_before_prep: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    updated_at: Mapped[datetime] = updated_at_column()
    updated_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
