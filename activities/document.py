"""Activities of a document's processing: classify, extract, send to SurePrep (with consent), tell the return;
and the import of a SmartVault upload.

The rows are written by the document services of the system actor (domain/document/processing.py, and
`batch.record_import`), under `ServiceContext.for_system`: the same status history and audit rows as any other
change, and nothing written here by hand. The activities read the bytes, call the providers they were built
with (worker.py), and hand the results to those services. Each is idempotent (see the services).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import tempfile
import uuid
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.context import ServiceContext
from domain.document import processing
from domain.document.batch import imported_pending, pending_key, quick_classify, record_import, record_import_refused
from domain.document.checklist import checklist_for_return
from domain.document.extraction import MAX_PAGES
from domain.document.models import Document, PendingDocument
from domain.document.pdf_text import PdfLimits, PdfRefused, read_pdf_text
from domain.document.sniffing import PDF, safe_filename, sniff
from domain.errors import ValidationFailed
from domain.tax_return.models import TaxReturn
from integrations.providers import DocumentProcessing, DocumentVault, ObjectStorage
from integrations.smartvault import TooLarge
from orchestration.document import DocumentInput, SmartVaultImportInput
from orchestration.tax_return import TaxReturnSystemEvent, send_system_event

SUREPREP = "SurePrep"
SMARTVAULT = "smartvault"
# The system actor's source, as the audit log names it.
PROCESSING_SOURCE = "document_processing"
IMPORT_SOURCE = "smartvault_import"


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


class DocumentActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], storage: ObjectStorage,
                 document_processing: DocumentProcessing | None, document_vault: DocumentVault | None,
                 review_threshold: float, max_bytes: int, pdf_limits: PdfLimits):
        """`document_processing` / `document_vault` None: that integration is off (its URL is unset)."""
        self.sessionmaker, self.storage, self.pdf_limits = sessionmaker, storage, pdf_limits
        self.document_processing, self.document_vault = document_processing, document_vault
        self.review_threshold, self.max_bytes = Decimal(str(review_threshold)), max_bytes

    def _text_of(self, document: Document) -> str:
        """The PDF's text layer, read from a temporary copy (bounded memory for any size) by a child process
        with limits (domain/document/pdf_text.py); PdfRefused past one."""
        if document.mime_type != PDF:
            return ""
        with tempfile.TemporaryFile() as spool:
            self.storage.download_to(document.s3_key, spool)
            spool.seek(0)
            return read_pdf_text(spool, self.pdf_limits, MAX_PAGES)

    @activity.defn(name="document.classify")
    async def classify(self, data: DocumentInput) -> ClassifyResult:
        async with self.sessionmaker.begin() as session:
            document = await processing.enter_step(self._system(session, data.firm_id), data.document_id,
                                                   "classifying")
            if document is None:
                return ClassifyResult(found=False)
        try:
            text = await asyncio.to_thread(self._text_of, document)
        except PdfRefused:  # classified by its name; the extraction step records the refusal
            text = ""
        async with self.sessionmaker.begin() as session:
            document = await processing.record_classification(self._system(session, data.firm_id),
                                                              data.document_id, text)
            if document is None:
                return ClassifyResult(found=False)
            return ClassifyResult(found=True, document_type=document.document_type,
                                  basis=document.classification_basis)

    @activity.defn(name="document.extract")
    async def extract(self, data: DocumentInput) -> ExtractResult:
        async with self.sessionmaker.begin() as session:
            document = await processing.enter_step(self._system(session, data.firm_id), data.document_id,
                                                   "extracting")
            if document is None:
                return ExtractResult(status="deleted")
        refused = None
        try:
            text = await asyncio.to_thread(self._text_of, document)
        except PdfRefused as refusal:  # this document goes to a person with the reason; the worker goes on
            text, refused = "", refusal.detail
        async with self.sessionmaker.begin() as session:
            outcome = await processing.record_extraction(self._system(session, data.firm_id), data.document_id,
                                                         text, self.review_threshold, refused)
        return ExtractResult(status=outcome.status, review_reason=outcome.review_reason,
                             field_count=outcome.field_count)

    @activity.defn(name="document.send_to_sureprep")
    async def send_to_sureprep(self, data: DocumentInput) -> SurePrepResult:
        """Disclosure to SurePrep only with the client's active Form 7216 consent naming it; without one the
        refusal is recorded (history and audit log) and nothing leaves."""
        if self.document_processing is None:
            return SurePrepResult(outcome="disabled")
        async with self.sessionmaker.begin() as session:
            check = await processing.check_disclosure(self._system(session, data.firm_id), data.document_id,
                                                      SUREPREP)
        document = check.document
        if check.outcome == "already_sent":
            return SurePrepResult(outcome="already_sent", sureprep_document_id=document.sureprep_document_id)
        if check.outcome != "send":
            return SurePrepResult(outcome=check.outcome)
        binder_id = await self._binder_for(data.firm_id, document)
        with tempfile.TemporaryFile() as spool:
            await asyncio.to_thread(self.storage.download_to, document.s3_key, spool)
            spool.seek(0)
            sureprep_id = await self.document_processing.upload_document(
                binder_id, str(document.id), document.filename, spool, document.mime_type, document.document_type)
        async with self.sessionmaker.begin() as session:
            await processing.record_disclosure(self._system(session, data.firm_id), data.document_id, SUREPREP,
                                               binder_id, sureprep_id)
        return SurePrepResult(outcome="sent", sureprep_document_id=sureprep_id)

    async def _binder_for(self, firm_id: uuid.UUID, document: Document) -> str:
        async with self.sessionmaker() as session:
            existing = await processing.binder_of(self._system(session, firm_id), document.client_id,
                                                  document.tax_year)
        if existing:
            return existing
        # The idempotency key makes a retried creation return the same binder.
        binder_id = await self.document_processing.create_binder(
            str(document.client_id), document.tax_year,
            idempotency_key=f"binder:{document.client_id}:{document.tax_year}")
        async with self.sessionmaker.begin() as session:
            await processing.record_binder(self._system(session, firm_id), document.client_id, document.tax_year,
                                           binder_id)
        return binder_id

    @staticmethod
    def _system(session: AsyncSession, firm_id: uuid.UUID, source: str = PROCESSING_SOURCE) -> ServiceContext:
        return ServiceContext.for_system(session, firm_id, source)

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
        if self.document_vault is None:
            return SmartVaultImportResult(outcome="refused", reason="smartvault_disabled")
        async with self.sessionmaker() as session:
            existing = await imported_pending(self._system(session, data.firm_id, IMPORT_SOURCE), SMARTVAULT,
                                              data.document_id)
        if existing:
            return SmartVaultImportResult(outcome="already_imported", pending_document_id=existing)
        with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as spool:
            try:
                size = await self.document_vault.download(data.document_id, spool, self.max_bytes)
                filename = safe_filename(data.name)
                sniffed = await asyncio.to_thread(sniff, spool, size)
            except (ValidationFailed, TooLarge) as refused:
                reason = refused.errors[0].code if isinstance(refused, ValidationFailed) and refused.errors \
                    else "too_large"
                async with self.sessionmaker.begin() as session:
                    await record_import_refused(self._system(session, data.firm_id, IMPORT_SOURCE), SMARTVAULT,
                                                data.document_id, reason)
                return SmartVaultImportResult(outcome="refused", reason=reason)
            spool.seek(0)
            digest = hashlib.sha256()
            for chunk in iter(lambda: spool.read(1024 * 1024), b""):
                digest.update(chunk)
            document_type, tax_year = await asyncio.to_thread(quick_classify, spool, sniffed.mime_type, filename,
                                                          self.pdf_limits)
            pending_id = uuid.uuid4()
            key = pending_key(data.firm_id, pending_id)
            spool.seek(0)
            await asyncio.to_thread(self.storage.upload_stream, key, spool, sniffed.mime_type)
        folder = re.sub(r"[^A-Za-z0-9._-]+", "-", data.folder).strip("-.")[:80] or "inbox"
        try:
            async with self.sessionmaker.begin() as session:
                inserted = await record_import(self._system(session, data.firm_id, IMPORT_SOURCE), PendingDocument(
                    id=pending_id, upload_batch_id=f"smartvault-{folder}", original_filename=filename,
                    file_size_bytes=size, mime_type=sniffed.mime_type, sha256=digest.hexdigest(), s3_key=key,
                    document_type=document_type, tax_year=tax_year, source=SMARTVAULT,
                    external_ref=data.document_id))
        except BaseException:
            await asyncio.to_thread(self.storage.delete, key)
            raise
        if not inserted:  # imported concurrently by another attempt: keep that one, drop this object
            await asyncio.to_thread(self.storage.delete, key)
            return SmartVaultImportResult(outcome="already_imported")
        return SmartVaultImportResult(outcome="imported", pending_document_id=pending_id)
