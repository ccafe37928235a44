"""Upload-first documents (spec §6.10): stored before their client exists, grouped by the caller's batch id,
then turned into a client, a return and that return's documents in one transaction by create-client.

The objects do not move in S3: a document created from a pending one points at the same server-generated
key (pending/<firm>/<id>), so assigning a batch copies no bytes and cannot half-fail in the store.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from domain import policy
from domain.client.service import create_client
from domain.context import ServiceContext
from domain.crypto import FieldCipher
from domain.document.classification import classify
from domain.document.extraction import detect_tax_year
from domain.document.models import Document, DocumentStatusHistory, PendingDocument
from domain.document.pdf_text import PdfLimits, PdfRefused, read_pdf_text
from domain.document.sniffing import PDF
from domain.errors import FieldError, NotFound, ValidationFailed
from domain.tax_return.service import create_return

BATCH_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"  # the API documents it (api/schemas/document.py)
_BATCH_ID = re.compile(BATCH_ID_PATTERN)

# The request's return_type → (our client_type, the Appendix A return type); api/schemas/document.py reads its keys.
REQUESTED_RETURN_TYPES = {
    "individual": ("individual", "1040"), "business": ("business", "1120S"), "trust": ("trust", "1041"),
    "nonprofit": ("nonprofit", "990"), "1040": ("individual", "1040"), "1120": ("business", "1120"),
    "1120S": ("business", "1120S"), "1065": ("business", "1065"), "1041": ("trust", "1041"),
    "990": ("nonprofit", "990"),
}


def pending_key(firm_id: uuid.UUID, pending_id: uuid.UUID) -> str:
    return f"pending/{firm_id}/{pending_id}"


def check_batch_id(raw: str | None) -> str:
    if raw is None or not _BATCH_ID.match(raw):
        raise ValidationFailed(errors=[FieldError("batch_id", "invalid_format" if raw else "required",
                                                  "batch_id: 1–100 letters, digits, '.', '_' or '-'")])
    return raw


def quick_classify(spool, mime_type: str, filename: str, limits: PdfLimits) -> tuple[str, int | None]:
    """Classification on arrival (blocking: run it in a thread), so the batch list shows what each file is;
    the full processing runs once the batch becomes a client's documents. A PDF the reader refuses (past a
    limit) is classified by its name here; its processing records the refusal."""
    text = ""
    if mime_type == PDF:
        spool.seek(0)
        try:
            text = read_pdf_text(spool, limits, max_pages=2)
        except PdfRefused:
            text = ""
    year, confidence = detect_tax_year(text)
    return classify(text, filename).document_type, (year if confidence >= 0.9 else None)


async def record_pending(ctx: ServiceContext, pending: PendingDocument) -> PendingDocument:
    ctx.session.add(pending)
    await ctx.session.flush()
    await ctx.audit("pending_document.upload", "pending_document", pending.id,
                    details={"batch_id": pending.upload_batch_id, "sha256": pending.sha256,
                             "size": pending.file_size_bytes, "source": pending.source})
    return pending


async def imported_pending(ctx: ServiceContext, source: str, external_ref: str) -> uuid.UUID | None:
    """The pending document an import from `source` already made of its file `external_ref`, if any."""
    policy.require(ctx.principal, "pending_document.import")
    return (await ctx.session.execute(select(PendingDocument.id).where(
        PendingDocument.firm_id == ctx.principal.firm_id, PendingDocument.source == source,
        PendingDocument.external_ref == external_ref))).scalar()


async def record_import(ctx: ServiceContext, pending: PendingDocument) -> bool:
    """A file imported by the system actor (SmartVault) joins the pending queue as a staff upload does, audited
    the same way; once per (firm, source, external_ref): False when a concurrent attempt recorded it first."""
    policy.require(ctx.principal, "pending_document.import")
    values = {column.key: getattr(pending, column.key) for column in PendingDocument.__table__.columns
              if column.key != "firm_id" and getattr(pending, column.key) is not None}
    inserted = (await ctx.session.execute(insert(PendingDocument).values(firm_id=ctx.principal.firm_id, **values)
                                          .on_conflict_do_nothing(constraint="uq_pending_documents_external")
                                          .returning(PendingDocument.id))).scalar()
    if inserted:
        await ctx.audit("pending_document.upload", "pending_document", inserted,
                        details={"batch_id": pending.upload_batch_id, "sha256": pending.sha256,
                                 "size": pending.file_size_bytes, "source": pending.source})
    return inserted is not None


async def record_import_refused(ctx: ServiceContext, resource_type: str, external_ref: str, reason: str) -> None:
    """A file the import would not take (too large, not a type we accept): audited, nothing stored."""
    policy.require(ctx.principal, "pending_document.import")
    await ctx.audit("pending_document.import_refused", resource_type, external_ref, details={"reason": reason})


async def list_batches(ctx: ServiceContext) -> list[dict]:
    policy.require(ctx.principal, "pending_document.list")
    rows = (await ctx.session.execute(
        select(PendingDocument).where(PendingDocument.firm_id == ctx.principal.firm_id,
                                      PendingDocument.assigned_document_id.is_(None))
        .order_by(PendingDocument.uploaded_at, PendingDocument.id).limit(5000))).scalars().all()
    batches: dict[str, list[PendingDocument]] = {}
    for row in rows:
        batches.setdefault(row.upload_batch_id, []).append(row)
    await ctx.audit("pending_document.list", "pending_document", details={"batches": len(batches)})
    return [{"batch_id": batch_id, "documents": docs} for batch_id, docs in batches.items()]


async def create_client_from_batch(ctx: ServiceContext, batch_id: str, data: dict, cipher: FieldCipher):
    """The client (through the clients service: numbering, rules, audit), its return, and one document per
    pending document of the batch. Pending rows are locked, so two concurrent calls cannot both take them."""
    policy.require(ctx.principal, "pending_document.list")
    batch_id = check_batch_id(batch_id)
    pending = (await ctx.session.execute(
        select(PendingDocument).where(PendingDocument.firm_id == ctx.principal.firm_id,
                                      PendingDocument.upload_batch_id == batch_id,
                                      PendingDocument.assigned_document_id.is_(None))
        .order_by(PendingDocument.uploaded_at, PendingDocument.id).with_for_update())).scalars().all()
    if not pending:
        raise NotFound("Batch")
    client_type, return_type = REQUESTED_RETURN_TYPES[data["return_type"]]
    tax_year = data["tax_year"]
    client = await create_client(ctx, {
        "client_type": client_type, "name": f"{data['first_name']} {data['last_name']}",
        "email": data.get("email"), "phone": data.get("phone"),
    }, cipher)
    # The returns service: its due date, tax-year and duplicate rules, and its audit row. The caller starts
    # the return's workflow once this transaction has committed.
    tax_return, _ = await create_return(ctx, {"client_id": client.id, "tax_year": tax_year,
                                              "return_type": return_type})
    now = datetime.now(timezone.utc)
    documents = []
    for row in pending:
        document = Document(
            id=uuid.uuid4(), firm_id=ctx.principal.firm_id, client_id=client.id, return_id=tax_return.id,
            tax_year=tax_year, type_hint=row.document_type, filename=row.original_filename,
            file_size=row.file_size_bytes, mime_type=row.mime_type, sha256=row.sha256, s3_key=row.s3_key,
            status="uploaded", source=row.source if row.source != "staff_upload" else "pending_batch",
            uploaded_by=row.uploaded_by, uploaded_by_role=ctx.principal.role.value, uploaded_at=row.uploaded_at,
        )
        ctx.session.add(document)
        ctx.session.add(DocumentStatusHistory(document_id=document.id, to_status="uploaded", event="batch_assign",
                                              reason=f"batch {batch_id}"))
        documents.append(document)
    await ctx.session.flush()  # the documents exist before the pending rows point at them
    for row, document in zip(pending, documents):
        row.assigned_document_id, row.assigned_at = document.id, now
    await ctx.session.flush()
    await ctx.audit("pending_document.assign", "pending_document", details={
        "batch_id": batch_id, "client_id": str(client.id), "documents": [str(d.id) for d in documents]},
        client_id=client.id)
    return client, tax_return, documents
