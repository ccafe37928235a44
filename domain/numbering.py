"""Gapless, concurrency-safe document numbers (C-YYYY-NNNNN, INV-YYYY-NNNNN …).

The counter row is locked by UPDATE … RETURNING inside the caller's transaction: a rolled-back transaction
gives its number back, and two concurrent ones queue on the row instead of taking the same number.
"""

import uuid

from sqlalchemy import Integer, String, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base


class NumberCounter(Base):
    __tablename__ = "number_counters"

    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    series: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, nullable=False)


async def next_number(session: AsyncSession, firm_id: uuid.UUID, series: str, year: int) -> int:
    result = await session.execute(
        text(
            "INSERT INTO number_counters (firm_id, series, year, last_value) VALUES (:f, :s, :y, 1) "
            "ON CONFLICT (firm_id, series, year) DO UPDATE SET last_value = number_counters.last_value + 1 "
            "RETURNING last_value"
        ),
        {"f": firm_id, "s": series, "y": year},
    )
    return result.scalar_one()


async def next_formatted(session: AsyncSession, firm_id: uuid.UUID, prefix: str, year: int) -> str:
    """`C-2024-00001` style: prefix, year, five digits (more when a year passes 99,999)."""
    return f"{prefix}-{year}-{await next_number(session, firm_id, prefix, year):05d}"
