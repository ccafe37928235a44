"""A firm is the tenant: every user, client and record belongs to exactly one."""

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, created_at_column, uuid_pk

# The firm created by the first migration, so a fresh install works without a firm-creation step.
DEFAULT_FIRM_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


class Firm(Base):
    __tablename__ = "firms"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
