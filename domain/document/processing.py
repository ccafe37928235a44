"""What the system does to a document while processing it: the services of the DocumentProcessing and
SmartVaultImport workflows' activities, called under `ServiceContext.for_system`.

They are the system actor's half of the document rules: every status change goes through
`service.record_status` (the status and its history row together, as the API's rerun does), every disclosure
or refusal is audited through `ctx.audit`, and a SmartVault import is recorded by `batch.record_pending`, the
service a staff upload uses. No activity writes a document row itself. Each is idempotent, because Temporal
runs an activity at least once: a status is written only when it changes, an existing extraction is kept, a
document already sent is not sent again, an import is recorded once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from domain import policy
from domain.context import ServiceContext
from domain.disclosure import gate
from domain.disclosure.basis import DisclosurePurpose
from domain.document.classification import classify
from domain.document.extraction import SUPPORTED_TYPES, detect_tax_year, extract_fields, has_text, issuer_of
from domain.document.models import Document, DocumentExtraction, ExtractedField, SurePrepBinder
from domain.document.service import current_extraction, record_status
from domain.document.types import FIRM_DOCUMENT_TYPES
from domain.event.record import record_event

PROCESS = "document.process"


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def lock_document(ctx: ServiceContext, document_id: uuid.UUID) -> Document | None:
    """The firm's live document, locked for this transaction; None when it is gone (deleted meanwhile)."""
    policy.require(ctx.principal, PROCESS)
    document = (await ctx.session.execute(select(Document).where(
        Document.id == document_id, Document.firm_id == ctx.principal.firm_id).with_for_update())
    ).scalar_one_or_none()
    return None if document is None or document.deleted_at is not None else document


async def enter_step(ctx: ServiceContext, document_id: uuid.UUID, status: str) -> Document | None:
    """A processing step starts (classifying, extracting): the status, once. None for a deleted document."""
    document = await lock_document(ctx, document_id)
    if document is not None:
        record_status(ctx.session, document, status)
    return document


async def record_classification(ctx: ServiceContext, document_id: uuid.UUID, text: str) -> Document:
    """The type the classifier gives, unless a person classified the document (that stays final)."""
    document = await lock_document(ctx, document_id)
    if document is not None and document.classification_basis != "staff":
        result = classify(text, document.filename, document.type_hint)
        document.document_type = result.document_type
        document.classification_confidence = Decimal(str(result.confidence))
        document.classification_basis = result.basis
    return document


@dataclass(frozen=True)
class ExtractionOutcome:
    status: str  # processed | review_required | deleted
    review_reason: str | None
    field_count: int


async def record_extraction(ctx: ServiceContext, document_id: uuid.UUID, text: str,
                            review_threshold: Decimal, pdf_refused: str | None = None) -> ExtractionOutcome:
    """Extract the fields (unless a current extraction exists: corrections are never overwritten), then set
    the document processed, or review_required with the reason a person must look at it. `pdf_refused`: the
    PDF was not read, past a limit of its reader (domain/document/pdf_text.py), and that is the reason."""
    document = await lock_document(ctx, document_id)
    if document is None:
        return ExtractionOutcome("deleted", None, 0)
    session = ctx.session
    extraction, fields = await current_extraction(session, document.id)
    reason = None
    if extraction is None and document.document_type in SUPPORTED_TYPES and has_text(text):
        found = extract_fields(document.document_type, text)
        extraction = DocumentExtraction(id=uuid.uuid4(), document_id=document.id, status="extracted",
                                        source="builtin")
        session.add(extraction)
        await session.flush()
        fields = []
        for position, value in enumerate(found):
            confidence = Decimal(str(value.confidence))
            fields.append(ExtractedField(extraction_id=extraction.id, field_name=value.name, position=position,
                                         value=value.value, confidence=confidence,
                                         needs_review=confidence < review_threshold, source="builtin"))
        session.add_all(fields)
        if fields:
            overall = sum(f.confidence for f in fields) / len(fields)
            extraction.overall_confidence = overall.quantize(Decimal("0.001"))
        extraction.status = "needs_review" if (not fields or any(f.needs_review for f in fields)) else "extracted"
        document.issuer_name = issuer_of(found)
        year, year_confidence = detect_tax_year(text)
        if year is not None and year_confidence >= 0.9 and year != document.tax_year:
            reason = f"the form says tax year {year}, the upload says {document.tax_year}"
    if extraction is not None:
        document.extraction_confidence = extraction.overall_confidence
        if reason is None and extraction.status == "needs_review":
            flagged = [f.field_name for f in fields if f.needs_review]
            reason = ("low-confidence fields: " + ", ".join(flagged)) if flagged else "no fields found"
    elif pdf_refused is not None:
        reason = f"not read: {pdf_refused} (a malformed or hostile file?): a person must look at it"
    elif document.document_type in FIRM_DOCUMENT_TYPES:
        reason = None  # the firm's own papers need no extraction
    elif not has_text(text):
        # Honest about scans: no text layer means no values, and a person reads it.
        reason = "no text layer (scanned image or non-PDF file): a person must read it"
    elif document.document_type == "OTHER":
        reason = "not recognised as a known document type"
    else:
        reason = f"no built-in extractor for {document.document_type}"
    status = "review_required" if reason else "processed"
    document.review_reason = reason[:300] if reason else None
    document.processed_at = _now()
    record_status(session, document, status, reason=document.review_reason)
    record_event(ctx, "document.processed", "document", document.id, document.client_id, {"status": status})
    return ExtractionOutcome(status, document.review_reason, len(fields))


# ---- disclosure to a document processor (SurePrep) ---------------------------------------------------------------

@dataclass(frozen=True)
class DisclosureCheck:
    outcome: str  # send | not_applicable | already_sent | refused_no_consent
    document: Document | None = None


async def check_disclosure(ctx: ServiceContext, document_id: uuid.UUID, third_party: str) -> DisclosureCheck:
    """May this document go to the document processor? Only a client document of a known type, not sent before,
    and only when the disclosure gate allows it (the client's signed Form 7216 consent naming that party for
    document processing). The gate logs its decision; a refusal is also recorded in the document's history and
    the audit log."""
    policy.require(ctx.principal, PROCESS)
    document = await ctx.session.get(Document, document_id)
    if (document is None or document.deleted_at is not None or document.firm_id != ctx.principal.firm_id
            or document.document_type is None or document.document_type in FIRM_DOCUMENT_TYPES):
        return DisclosureCheck("not_applicable")
    if document.sureprep_document_id:
        return DisclosureCheck("already_sent", document)
    decision = await gate.authorize(ctx, gate.Disclosure(
        client_id=document.client_id, recipient=third_party, purpose=DisclosurePurpose.DOCUMENT_PROCESSING,
        information="document", tax_year=document.tax_year, entity_type="document", entity_id=document.id))
    if not decision.allowed:
        record_status(ctx.session, document, document.status, event=f"{third_party.lower()}.refused_no_consent",
                      reason=f"no Form 7216 consent in force for {third_party} ({decision.refusal_reason})")
        await ctx.audit("document.disclosure_refused", "document", document.id, client_id=document.client_id,
                        details={"third_party": third_party, "reason": decision.refusal_reason,
                                 "disclosure_id": str(decision.log_id)})
        return DisclosureCheck("refused_no_consent", document)
    return DisclosureCheck("send", document)


async def binder_of(ctx: ServiceContext, client_id: uuid.UUID, tax_year: int) -> str | None:
    """The processor's binder already made for this client's tax year, if any."""
    policy.require(ctx.principal, PROCESS)
    return (await ctx.session.execute(select(SurePrepBinder.external_binder_id).where(
        SurePrepBinder.client_id == client_id, SurePrepBinder.tax_year == tax_year,
        SurePrepBinder.firm_id == ctx.principal.firm_id))).scalar_one_or_none()


async def record_binder(ctx: ServiceContext, client_id: uuid.UUID, tax_year: int, binder_id: str) -> None:
    """Once per client and year: a concurrent attempt that made the same binder (same idempotency key) is a
    no-op."""
    policy.require(ctx.principal, PROCESS)
    await ctx.session.execute(insert(SurePrepBinder).values(
        id=uuid.uuid4(), firm_id=ctx.principal.firm_id, client_id=client_id, tax_year=tax_year,
        external_binder_id=binder_id, status="created").on_conflict_do_nothing())


async def record_disclosure(ctx: ServiceContext, document_id: uuid.UUID, third_party: str, binder_id: str,
                            external_id: str) -> None:
    """The document was sent: its id at the processor, a history row and the audit row of the disclosure."""
    document = await lock_document(ctx, document_id)
    if document is None:
        return
    document.sureprep_document_id = external_id
    record_status(ctx.session, document, document.status, event=f"{third_party.lower()}.sent",
                  reason=f"binder {binder_id}")
    await ctx.audit("document.disclosed", "document", document.id, client_id=document.client_id,
                    details={"third_party": third_party, "binder_id": binder_id,
                             "sureprep_document_id": external_id})
