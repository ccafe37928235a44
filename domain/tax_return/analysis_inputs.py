"""The queries that feed an analysis: the return, its prior-year return, and their documents.

Documents belong to the documents capability, built on another branch. Until its table exists this reads
document types through `documents_of`, which returns nothing when there is no `documents` table, and the
checklist through `checklist_of`, which expects nothing: the analysis then reports only the prior-year
comparison of amounts. At merge, `checklist_of` is wired to the documents capability's checklist.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.tax_return.analysis import AnalysisInput
from domain.tax_return.models import TaxReturn

AMOUNT_FIELDS = ("estimated_tax_due", "estimated_refund")


async def _has_documents_table(session: AsyncSession) -> tuple[bool, bool]:
    row = (await session.execute(text(
        "SELECT to_regclass('documents') IS NOT NULL, EXISTS (SELECT 1 FROM information_schema.columns "
        "WHERE table_name = 'documents' AND column_name = 'deleted_at')"))).one()
    return bool(row[0]), bool(row[1])


async def documents_of(session: AsyncSession, return_id: uuid.UUID) -> list[str]:
    exists, soft_delete = await _has_documents_table(session)
    if not exists:
        return []
    sql = "SELECT DISTINCT document_type FROM documents WHERE return_id = :r AND document_type IS NOT NULL"
    if soft_delete:
        sql += " AND deleted_at IS NULL"
    return sorted((await session.execute(text(sql), {"r": return_id})).scalars())


async def checklist_of(session: AsyncSession, tax_return: TaxReturn) -> list[str]:
    """Document types the checklist expects (wired to the documents capability at merge)."""
    return []


def _amounts(tax_return: TaxReturn) -> dict[str, Decimal]:
    return {name: getattr(tax_return, name) for name in AMOUNT_FIELDS if getattr(tax_return, name) is not None}


async def gather(session: AsyncSession, tax_return: TaxReturn, include_prior_year: bool) -> AnalysisInput:
    prior = (await session.execute(select(TaxReturn).where(
        TaxReturn.client_id == tax_return.client_id, TaxReturn.return_type == tax_return.return_type,
        TaxReturn.tax_year == tax_return.tax_year - 1, TaxReturn.deleted_at.is_(None)))).scalar_one_or_none()
    return AnalysisInput(
        return_type=tax_return.return_type,
        tax_year=tax_return.tax_year,
        include_prior_year_comparison=include_prior_year,
        document_types=await documents_of(session, tax_return.id),
        prior_year_document_types=None if prior is None else await documents_of(session, prior.id),
        checklist_expected=await checklist_of(session, tax_return),
        amounts=_amounts(tax_return),
        prior_year_amounts={} if prior is None else _amounts(prior),
    )
