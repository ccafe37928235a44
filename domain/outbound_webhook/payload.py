"""The details a full-payload endpoint receives besides the thin event: return information, so only ever after
the §7216 gate allowed it (delivery.py). Read at the attempt, from the entity's current row."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from domain.document.models import Document
from domain.event.models import DomainEvent
from domain.invoice.models import Invoice
from domain.tax_return.models import TaxReturn


def _money(value) -> str | None:
    return str(value) if value is not None else None


async def full_details(session: AsyncSession, event: DomainEvent) -> dict | None:
    """None when the entity is gone, or no details are defined for its type (the thin event stands alone)."""
    if event.entity_type == "tax_return":
        row = await session.get(TaxReturn, event.entity_id)
        return row and {"tax_year": row.tax_year, "return_type": row.return_type, "status": row.status,
                        "filing_status": row.filing_status, "estimated_refund": _money(row.estimated_refund),
                        "estimated_tax_due": _money(row.estimated_tax_due), "due_date": row.due_date.isoformat()}
    if event.entity_type == "invoice":
        row = await session.get(Invoice, event.entity_id)
        return row and {"invoice_number": row.invoice_number, "status": row.status, "total": _money(row.total),
                        "amount_paid": _money(row.amount_paid),
                        "due_date": row.due_date.isoformat() if row.due_date else None}
    if event.entity_type == "document":
        row = await session.get(Document, event.entity_id)
        return row and {"tax_year": row.tax_year, "document_type": row.document_type, "filename": row.filename,
                        "status": row.status, "issuer_name": row.issuer_name}
    return None
