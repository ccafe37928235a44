"""The queries that feed an analysis: the return, its prior-year return, their documents and the checklist.

Documents and the checklist belong to the documents capability (domain/document/); this module only reads
them: the document types on a return, and the checklist items still missing (spec §6.9).
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.document.checklist import checklist_for_return
from domain.document.models import Document
from domain.tax_return.analysis import AnalysisInput
from domain.tax_return.models import TaxReturn

AMOUNT_FIELDS = ("estimated_tax_due", "estimated_refund")


async def documents_of(session: AsyncSession, return_id: uuid.UUID) -> list[str]:
    rows = await session.execute(select(Document.document_type).distinct().where(
        Document.return_id == return_id, Document.deleted_at.is_(None), Document.document_type.is_not(None)))
    return sorted(rows.scalars())


async def checklist_missing(session: AsyncSession, tax_return: TaxReturn) -> list[tuple[str, str]]:
    """(document type, description) of every checklist item not received yet."""
    checklist = await checklist_for_return(session, tax_return)
    return [(item.document_type, item.description) for item in checklist.expected if item.status == "missing"]


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
        checklist_missing=await checklist_missing(session, tax_return),
        amounts=_amounts(tax_return),
        prior_year_amounts={} if prior is None else _amounts(prior),
    )
