"""Activities of a document's processing: classify, extract, send to SurePrep (with consent), tell the return.

Each is idempotent: a status is written (with its history row) only when it changes, an existing current
extraction is reused rather than duplicated, SurePrep calls carry idempotency keys and a document already
sent is not sent again.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import tempfile
import uuid
from datetime import datetime, timezone
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.audit.models import AuditEntry
from domain.consent.rules import has_active_consent
from domain.document.checklist import checklist_for_return
from domain.document.classification import classify
from domain.document.extraction import (
    SUPPORTED_TYPES, detect_tax_year, extract_fields, has_text, issuer_of, read_pdf_text,
)
from domain.document.models import Document, DocumentExtraction, DocumentStatusHistory, ExtractedField
from domain.document.service import current_extraction
from domain.document.sniffing import PDF
from domain.document.types import FIRM_DOCUMENT_TYPES
from domain.roles import Role
from domain.tax_return.models import TaxReturn
from integrations.storage import ObjectStore
from orchestration.document import DocumentInput, SmartVaultImportInput
from orchestration.tax_return import TaxReturnSystemEvent, send_system_event

SUREPREP = "SurePrep"


class ClassifyResult(BaseModel):
    found: bool
    document_type: str | None = None
    basis: str | None = None


class ExtractResult(BaseModel):
    status: str
    review_reason: str | None = None
    field_count: int = 0


class SurePrepResult(BaseModel):
    outcome: str  # disabled | not_applicable | refused_no_consent | sent | already_sent
    sureprep_document_id: str | None = None


class NotifyResult(BaseModel):
    sent: list[str] = []
    delivered: list[bool] = []


class SmartVaultImportResult(BaseModel):
    outcome: str  # imported | already_imported | refused
    pending_document_id: uuid.UUID | None = None
    reason: str | None = None


class DocumentOutcome(BaseModel):
    status: str
    document_type: str | None
    review_reason: str | None = None
    sureprep: str | None = None
    signals: list[str] = []


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def set_status(session: AsyncSession, document: Document, status: str, reason: str | None = None,
                     event: str | None = None) -> None:
    """Write the status and its history row, once: a retried activity finds the status already set."""
    if document.status == status and event is None:
        return
    session.add(DocumentStatusHistory(document_id=document.id, from_status=document.status, to_status=status,
                                      event=event, reason=reason))
    document.status = status
    document.updated_at = _now()


def system_audit(document: Document, action: str, details: dict) -> AuditEntry:
    return AuditEntry(firm_id=document.firm_id, actor_id=None, actor_role=Role.SYSTEM.value, action=action,
                      resource_type="document", resource_id=str(document.id), client_id=document.client_id,
                      details=details)


class DocumentActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], storage: ObjectStore, settings):
        self.sessionmaker, self.storage, self.settings = sessionmaker, storage, settings

    def _text_of(self, document: Document) -> str:
        """The PDF's text layer, read from a temporary copy (bounded memory for any size)."""
        if document.mime_type != PDF:
            return ""
        with tempfile.TemporaryFile() as spool:
            self.storage.client.download_fileobj(self.storage.bucket, document.s3_key, spool)
            spool.seek(0)
            return read_pdf_text(spool)

    @activity.defn(name="document.classify")
    async def classify(self, data: DocumentInput) -> ClassifyResult:
        async with self.sessionmaker.begin() as session:
            document = await session.get(Document, data.document_id, with_for_update=True)
            if document is None or document.deleted_at is not None:
                return ClassifyResult(found=False)
            await set_status(session, document, "classifying")
        text = await asyncio.to_thread(self._text_of, document)
        async with self.sessionmaker.begin() as session:
            document = await session.get(Document, data.document_id, with_for_update=True)
            if document.classification_basis != "staff":
                result = classify(text, document.filename, document.type_hint)
                document.document_type = result.document_type
                document.classification_confidence = Decimal(str(result.confidence))
                document.classification_basis = result.basis
            return ClassifyResult(found=True, document_type=document.document_type,
                                  basis=document.classification_basis)

    @activity.defn(name="document.extract")
    async def extract(self, data: DocumentInput) -> ExtractResult:
        async with self.sessionmaker.begin() as session:
            document = await session.get(Document, data.document_id, with_for_update=True)
            if document is None or document.deleted_at is not None:
                return ExtractResult(status="deleted")
            await set_status(session, document, "extracting")
        text = await asyncio.to_thread(self._text_of, document)
        threshold = Decimal(str(self.settings.extraction_review_threshold))
        async with self.sessionmaker.begin() as session:
            document = await session.get(Document, data.document_id, with_for_update=True)
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
                    fields.append(ExtractedField(extraction_id=extraction.id, field_name=value.name,
                                                 position=position, value=value.value, confidence=confidence,
                                                 needs_review=confidence < threshold, source="builtin"))
                session.add_all(fields)
                if fields:
                    overall = sum(f.confidence for f in fields) / len(fields)
                    extraction.overall_confidence = overall.quantize(Decimal("0.001"))
                extraction.status = "needs_review" if (not fields or any(f.needs_review for f in fields)) \
                    else "extracted"
                document.issuer_name = issuer_of(found)
                year, year_confidence = detect_tax_year(text)
                if year is not None and year_confidence >= 0.9 and year != document.tax_year:
                    reason = f"the form says tax year {year}, the upload says {document.tax_year}"
            if extraction is not None:
                document.extraction_confidence = extraction.overall_confidence
                if reason is None and extraction.status == "needs_review":
                    flagged = [f.field_name for f in fields if f.needs_review]
                    reason = ("low-confidence fields: " + ", ".join(flagged)) if flagged else "no fields found"
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
            await set_status(session, document, status, reason=document.review_reason)
            return ExtractResult(status=status, review_reason=document.review_reason, field_count=len(fields))

    @activity.defn(name="document.send_to_sureprep")
    async def send_to_sureprep(self, data: DocumentInput) -> SurePrepResult:
        """Disclosure to SurePrep only with the client's active Form 7216 consent naming it; without one the
        refusal is recorded (history and audit log) and nothing leaves."""
        if not self.settings.sureprep_api_url:
            return SurePrepResult(outcome="disabled")
        from integrations.sureprep import SurePrepClient

        async with self.sessionmaker.begin() as session:
            document = await session.get(Document, data.document_id)
            if (document is None or document.deleted_at is not None or document.document_type is None
                    or document.document_type in FIRM_DOCUMENT_TYPES):
                return SurePrepResult(outcome="not_applicable")
            if document.sureprep_document_id:
                return SurePrepResult(outcome="already_sent", sureprep_document_id=document.sureprep_document_id)
            if not await has_active_consent(session, document.client_id, SUREPREP):
                session.add(DocumentStatusHistory(document_id=document.id, from_status=document.status,
                                                  to_status=document.status, event="sureprep.refused_no_consent",
                                                  reason="no active Form 7216 consent for SurePrep"))
                session.add(system_audit(document, "document.disclosure_refused",
                                         {"third_party": SUREPREP, "reason": "no_active_consent"}))
                return SurePrepResult(outcome="refused_no_consent")
        client = SurePrepClient(self.settings.sureprep_api_url, self.settings.sureprep_api_key)
        binder_id = await self._binder_for(client, document)
        with tempfile.TemporaryFile() as spool:
            await asyncio.to_thread(self.storage.client.download_fileobj, self.storage.bucket, document.s3_key,
                                    spool)
            spool.seek(0)
            sureprep_id = await client.upload_document(binder_id, str(document.id), document.filename, spool,
                                                       document.mime_type, document.document_type)
        async with self.sessionmaker.begin() as session:
            document = await session.get(Document, data.document_id, with_for_update=True)
            document.sureprep_document_id = sureprep_id
            session.add(DocumentStatusHistory(document_id=document.id, from_status=document.status,
                                              to_status=document.status, event="sureprep.sent",
                                              reason=f"binder {binder_id}"))
            session.add(system_audit(document, "document.disclosed",
                                     {"third_party": SUREPREP, "binder_id": binder_id,
                                      "sureprep_document_id": sureprep_id}))
        return SurePrepResult(outcome="sent", sureprep_document_id=sureprep_id)

    async def _binder_for(self, client, document: Document) -> str:
        from sqlalchemy.dialects.postgresql import insert

        from domain.document.models import SurePrepBinder

        async with self.sessionmaker() as session:
            existing = (await session.execute(select(SurePrepBinder.external_binder_id).where(
                SurePrepBinder.client_id == document.client_id,
                SurePrepBinder.tax_year == document.tax_year))).scalar_one_or_none()
        if existing:
            return existing
        # The idempotency key makes a retried creation return the same binder.
        binder_id = await client.create_binder(str(document.client_id), document.tax_year,
                                               idempotency_key=f"binder:{document.client_id}:{document.tax_year}")
        async with self.sessionmaker.begin() as session:
            await session.execute(insert(SurePrepBinder).values(
                id=uuid.uuid4(), firm_id=document.firm_id, client_id=document.client_id,
                tax_year=document.tax_year, external_binder_id=binder_id, status="created",
            ).on_conflict_do_nothing())
        return binder_id

    @activity.defn(name="document.notify_return")
    async def notify_return(self, data: DocumentInput) -> NotifyResult:
        """documents_received while the return is in intake; documents_complete once its checklist has nothing
        missing while it is in intake or documents_pending. Signals are ordered, so received-then-complete for
        a single document that completes the checklist reaches the return workflow in that order, and that
        workflow ignores whatever its state machine does not allow."""
        async with self.sessionmaker() as session:
            document = await session.get(Document, data.document_id)
            if document is None or document.deleted_at is not None or document.return_id is None:
                return NotifyResult()
            tax_return = await session.get(TaxReturn, document.return_id)
            if tax_return is None or tax_return.status not in ("intake", "documents_pending"):
                return NotifyResult()
            checklist = await checklist_for_return(session, tax_return)
        actions = []
        if tax_return.status == "intake":
            actions.append("documents_received")
        if checklist.complete and checklist.expected:
            actions.append("documents_complete")
        client = activity.client()
        delivered = [await send_system_event(client, tax_return.id,
                                             TaxReturnSystemEvent(action=action, source="document",
                                                                  notes=f"document {document.id}"))
                     for action in actions]
        return NotifyResult(sent=actions, delivered=delivered)

    @activity.defn(name="document.import_from_smartvault")
    async def import_from_smartvault(self, data: SmartVaultImportInput) -> SmartVaultImportResult:
        """Download the file, check it as an upload is checked, store it, and queue it as a pending document
        of batch `smartvault-<folder>`. Imported once: the (firm, source, external_ref) key is unique."""
        from sqlalchemy.dialects.postgresql import insert

        from domain.document.batch import pending_key, quick_classify
        from domain.document.models import PendingDocument
        from domain.document.sniffing import safe_filename, sniff
        from domain.errors import ValidationFailed
        from integrations.smartvault import SmartVaultClient, TooLarge

        async with self.sessionmaker() as session:
            existing = (await session.execute(select(PendingDocument.id).where(
                PendingDocument.firm_id == data.firm_id, PendingDocument.source == "smartvault",
                PendingDocument.external_ref == data.document_id))).scalar()
        if existing:
            return SmartVaultImportResult(outcome="already_imported", pending_document_id=existing)
        client = SmartVaultClient(self.settings.smartvault_api_url, self.settings.smartvault_api_key)
        with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as spool:
            try:
                size = await client.download(data.document_id, spool, self.settings.document_max_bytes)
                filename = safe_filename(data.name)
                sniffed = await asyncio.to_thread(sniff, spool, size)
            except (ValidationFailed, TooLarge) as refused:
                reason = refused.errors[0].code if isinstance(refused, ValidationFailed) and refused.errors \
                    else "too_large"
                async with self.sessionmaker.begin() as session:
                    session.add(AuditEntry(firm_id=data.firm_id, actor_id=None, actor_role=Role.SYSTEM.value,
                                           action="pending_document.import_refused", resource_type="smartvault",
                                           resource_id=data.document_id, details={"reason": reason}))
                return SmartVaultImportResult(outcome="refused", reason=reason)
            spool.seek(0)
            digest = hashlib.sha256()
            for chunk in iter(lambda: spool.read(1024 * 1024), b""):
                digest.update(chunk)
            document_type, tax_year = await asyncio.to_thread(quick_classify, spool, sniffed.mime_type, filename)
            pending_id = uuid.uuid4()
            key = pending_key(data.firm_id, pending_id)
            spool.seek(0)
            await asyncio.to_thread(self.storage.upload_stream, key, spool, sniffed.mime_type)
        folder = re.sub(r"[^A-Za-z0-9._-]+", "-", data.folder).strip("-.")[:80] or "inbox"
        try:
            async with self.sessionmaker.begin() as session:
                inserted = (await session.execute(insert(PendingDocument).values(
                    id=pending_id, firm_id=data.firm_id, upload_batch_id=f"smartvault-{folder}",
                    original_filename=filename, file_size_bytes=size, mime_type=sniffed.mime_type,
                    sha256=digest.hexdigest(), s3_key=key, document_type=document_type, tax_year=tax_year,
                    source="smartvault", external_ref=data.document_id,
                ).on_conflict_do_nothing(constraint="uq_pending_documents_external")
                    .returning(PendingDocument.id))).scalar()
                if inserted:
                    session.add(AuditEntry(firm_id=data.firm_id, actor_id=None, actor_role=Role.SYSTEM.value,
                                           action="pending_document.upload", resource_type="pending_document",
                                           resource_id=str(pending_id),
                                           details={"source": "smartvault", "sha256": digest.hexdigest()}))
        except BaseException:
            await asyncio.to_thread(self.storage.delete, key)
            raise
        if not inserted:  # imported concurrently by another attempt: keep that one, drop this object
            await asyncio.to_thread(self.storage.delete, key)
            return SmartVaultImportResult(outcome="already_imported")
        return SmartVaultImportResult(outcome="imported", pending_document_id=pending_id)
