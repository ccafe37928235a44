"""A return's document checklist (spec §6.9): what we expect, what arrived, what is missing, what surprised us.

Expected = one item per distinct (type, issuer) among the client's documents of the prior tax year ("1099-DIV
from Fidelity (based on prior year)"), plus the return type's baseline where the prior year says nothing about
that type (a 1040 expects at least one W-2). A baseline item is met by every document of its type; a
prior-year item by one document of its type from the same issuer (or whose issuer is unknown). Documents
that meet no item are unexpected. The firm's own papers (engagement letter, 8879, drafts …) are not listed.
A document counts once classified (status processed or review_required).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import policy
from domain.context import ServiceContext
from domain.document.models import Document
from domain.document.types import FIRM_DOCUMENT_TYPES
from domain.tax_return.models import TaxReturn
from domain.tax_return.service import load_visible_return

BASELINE: dict[str, list[tuple[str, str]]] = {
    "1040": [("W-2", "W-2 from each employer")],
    "1120": [("BANK_STATEMENT", "Year-end bank statements")],
    "1120S": [("BANK_STATEMENT", "Year-end bank statements")],
    "1065": [("BANK_STATEMENT", "Year-end bank statements")],
    "1041": [("BANK_STATEMENT", "Year-end bank statements")],
    "990": [("BANK_STATEMENT", "Year-end bank statements")],
}
CLASSIFIED = ("processed", "review_required")


@dataclass
class ChecklistItem:
    document_type: str
    description: str
    status: str  # received | missing
    document_id: uuid.UUID | None = None


@dataclass
class Checklist:
    expected: list[ChecklistItem] = field(default_factory=list)
    unexpected: list[ChecklistItem] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return all(item.status == "received" for item in self.expected)

    def as_dict(self) -> dict:
        return {
            "expected": [{"document_type": i.document_type, "description": i.description, "status": i.status,
                          "document_id": str(i.document_id) if i.document_id else None} for i in self.expected],
            "unexpected": [{"document_type": i.document_type, "description": i.description,
                            "document_id": str(i.document_id)} for i in self.unexpected],
            "complete": self.complete,
        }


def _issuer_key(name: str | None) -> str | None:
    if not name:
        return None
    words = re.findall(r"[a-z0-9]+", name.lower())
    words = [w for w in words if w not in ("inc", "llc", "corp", "corporation", "co", "company", "the", "na", "n")]
    return " ".join(words) or None


def _from(doc_type: str, issuer: str | None) -> str:
    return f"{doc_type} from {issuer}" if issuer else doc_type


def build_checklist(return_type: str, current: list[Document], prior: list[Document]) -> Checklist:
    result = Checklist()
    current = [d for d in current if d.document_type and d.document_type not in FIRM_DOCUMENT_TYPES]
    unmatched = list(current)

    prior_items: dict[tuple[str, str | None], str | None] = {}
    for doc in prior:
        if doc.document_type and doc.document_type not in FIRM_DOCUMENT_TYPES and doc.document_type != "OTHER":
            prior_items.setdefault((doc.document_type, _issuer_key(doc.issuer_name)), doc.issuer_name)
    for (doc_type, key), issuer in prior_items.items():
        match = next((d for d in unmatched if d.document_type == doc_type
                      and (key is None or _issuer_key(d.issuer_name) in (None, key))), None)
        description = f"{_from(doc_type, issuer)} (based on prior year)"
        if match is not None:
            unmatched.remove(match)
            result.expected.append(ChecklistItem(doc_type, description, "received", match.id))
        else:
            result.expected.append(ChecklistItem(doc_type, description, "missing"))

    prior_types = {doc_type for doc_type, _ in prior_items}
    for doc_type, description in BASELINE.get(return_type, []):
        if doc_type in prior_types:
            continue
        matches = [d for d in unmatched if d.document_type == doc_type]
        for doc in matches:
            unmatched.remove(doc)
            result.expected.append(ChecklistItem(doc_type, _from(doc_type, doc.issuer_name), "received", doc.id))
        if not matches:
            result.expected.append(ChecklistItem(doc_type, description, "missing"))

    result.unexpected = [ChecklistItem(d.document_type, _from(d.document_type, d.issuer_name), "received", d.id)
                         for d in unmatched]
    return result


async def checklist_for_return(session: AsyncSession, tax_return: TaxReturn) -> Checklist:
    current = (await session.execute(
        select(Document).where(Document.return_id == tax_return.id, Document.deleted_at.is_(None),
                               Document.status.in_(CLASSIFIED))
        .order_by(Document.uploaded_at, Document.id))).scalars().all()
    prior = (await session.execute(
        select(Document).where(Document.client_id == tax_return.client_id,
                               Document.tax_year == tax_return.tax_year - 1, Document.deleted_at.is_(None),
                               Document.status.in_(CLASSIFIED))
        .order_by(Document.uploaded_at, Document.id))).scalars().all()
    return build_checklist(tax_return.return_type, list(current), list(prior))


async def checklist_for_visible_return(ctx: ServiceContext, return_id: uuid.UUID) -> Checklist:
    policy.require(ctx.principal, "document.checklist")
    # The returns rule: a preparer sees the checklist of a return assigned to them or to its client.
    tax_return, _ = await load_visible_return(ctx, return_id)
    checklist = await checklist_for_return(ctx.session, tax_return)
    await ctx.audit("document.checklist", "tax_return", tax_return.id, client_id=tax_return.client_id)
    return checklist
