"""Document rules (spec §6.1–6.8): who sees which document, metadata, soft delete, extraction corrections.

Visibility follows the document's client: a document is visible exactly when its client is (another firm's,
an unassigned preparer's, another portal client's → 404). The bytes are stored by the caller (the API streams
them to S3) before `record_upload` writes the row, so a row never points at a missing object.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Awaitable, Callable, TypeVar

from sqlalchemy import Select, insert, select

from domain import policy
from domain.client.models import Client
from domain.client.service import load_visible_client
from domain.context import ServiceContext
from domain.document.models import Document, DocumentExtraction, DocumentStatusHistory, ExtractedField
from domain.document.types import DOCUMENT_TYPES, ESIGN_SOURCE, normalize_type
from domain.event.record import record_event
from domain.errors import BusinessRuleViolation, Conflict, FieldError, NotFound, ValidationFailed
from domain.listing import Filterable, ListQuery, ListSpec, Page, paginate
from domain.roles import Role
from domain.tax_return.models import TaxReturn
from domain.tax_return.state_machine import APPROVED_OR_LATER, FILED_OR_LATER, reopen_hint

T = TypeVar("T")

STATUSES = ("uploaded", "classifying", "extracting", "processed", "review_required")

# The areas of a client portal an imported document comes from (docs/portal/): kept apart, as the firm files them.
FOLDER_AREAS = ("client_uploaded", "firm_shared", "organizer_attachments")

DOCUMENT_LIST_SPEC = ListSpec(
    filters={
        "client_id": Filterable(Document.client_id, uuid.UUID),
        "return_id": Filterable(Document.return_id, uuid.UUID),
        "tax_year": Filterable(Document.tax_year, int, ("eq", "in", "gte", "lte")),
        "document_type": Filterable(Document.document_type, choices=frozenset(DOCUMENT_TYPES)),
        "status": Filterable(Document.status, choices=frozenset(STATUSES)),
        "source": Filterable(Document.source),
        "folder_area": Filterable(Document.folder_area, choices=frozenset(FOLDER_AREAS)),
        "uploaded_at": Filterable(Document.uploaded_at, datetime, ("gte", "lte")),
    },
    sortable={"uploaded_at": Document.uploaded_at, "filename": Document.filename, "tax_year": Document.tax_year},
    id_column=Document.id,
    default_sort="-uploaded_at",
    output_fields=frozenset({"id", "client_id", "return_id", "tax_year", "document_type", "document_subtype",
                             "filename", "file_size", "mime_type", "sha256", "status", "review_reason",
                             "extraction_confidence", "source", "folder_area", "folder_path", "uploaded_at",
                             "processed_at"}),
)


def document_key(firm_id: uuid.UUID, client_id: uuid.UUID, document_id: uuid.UUID) -> str:
    """Server-generated: nothing the caller sent (least of all the file name) reaches the object key."""
    return f"documents/{firm_id}/{client_id}/{document_id}"


def _bad(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(errors=[FieldError(field, code, message)])


def parse_type(raw: str | None, field: str = "document_type") -> str | None:
    if raw is None or raw == "":
        return None
    normalized = normalize_type(raw)
    if normalized is None:
        raise _bad(field, "invalid_choice", f"{field} must be one of the Appendix A document types")
    return normalized


def parse_tax_year(raw: str | int | None) -> int:
    try:
        year = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _bad("tax_year", "required" if raw in (None, "") else "invalid_format",
                   "tax_year must be a year such as 2024") from None
    if not 2000 <= year <= datetime.now(timezone.utc).year + 1:
        raise _bad("tax_year", "out_of_range", "tax_year must be between 2000 and next year")
    return year


async def load_return_of_client(ctx: ServiceContext, client: Client, return_id: uuid.UUID) -> TaxReturn:
    """The return, if it belongs to this client and firm (else 404, as for a return that does not exist)."""
    tax_return = await ctx.session.get(TaxReturn, return_id)
    if (tax_return is None or tax_return.deleted_at is not None or tax_return.client_id != client.id
            or tax_return.firm_id != ctx.principal.firm_id):
        raise NotFound("Return")
    return tax_return


@dataclass(frozen=True)
class UploadTarget:
    client: Client
    tax_return: TaxReturn | None
    tax_year: int
    type_hint: str | None


async def check_upload(ctx: ServiceContext, client_id: uuid.UUID, return_id: uuid.UUID | None, tax_year: int,
                       type_hint: str | None) -> UploadTarget:
    policy.require(ctx.principal, "document.upload")
    client = await load_visible_client(ctx, client_id)
    tax_return = await load_return_of_client(ctx, client, return_id) if return_id else None
    if tax_return is not None and tax_return.tax_year != tax_year:
        raise BusinessRuleViolation("tax_year differs from the return's tax year",
                                    [FieldError("tax_year", "mismatch", f"the return is for {tax_return.tax_year}")])
    return UploadTarget(client, tax_return, tax_year, type_hint)


async def record_upload(ctx: ServiceContext, target: UploadTarget, document_id: uuid.UUID, filename: str,
                        size: int, mime_type: str, sha256: str, s3_key: str) -> Document:
    source = "client_upload" if ctx.principal.role == Role.CLIENT else "staff_upload"
    document = Document(
        id=document_id, firm_id=ctx.principal.firm_id, client_id=target.client.id,
        return_id=target.tax_return.id if target.tax_return else None, tax_year=target.tax_year,
        type_hint=target.type_hint, filename=filename, file_size=size, mime_type=mime_type, sha256=sha256,
        s3_key=s3_key, status="uploaded", source=source, uploaded_by=ctx.principal.subject_id,
        uploaded_by_role=ctx.principal.role.value,
    )
    ctx.session.add(document)
    ctx.session.add(DocumentStatusHistory(document_id=document.id, from_status=None, to_status="uploaded",
                                          event="upload", reason=source))
    await ctx.session.flush()
    await ctx.audit("document.upload", "document", document.id, client_id=document.client_id,
                    details={"size": size, "mime_type": mime_type, "sha256": sha256})
    record_event(ctx, "document.uploaded", "document", document.id, document.client_id, {"status": "uploaded"})
    return document


@dataclass(frozen=True)
class ImportedDocument:
    """A document the system actor imported from an outside source (a client portal), its bytes already in the
    store under `s3_key`, with where it sat at its source."""

    document_id: uuid.UUID
    client_id: uuid.UUID
    tax_year: int
    filename: str
    size: int
    mime_type: str
    sha256: str
    s3_key: str
    source: str
    folder_area: str
    folder_path: str


async def record_imports(ctx: ServiceContext, imports: list[ImportedDocument]) -> None:
    """Imported documents: the same rows, history and audit as an upload, each document its own audit row. They
    come in pages of many, so each table takes one multi-row INSERT per page (an ORM object per row cost more
    CPU than fetching the document: docs/portal/README.md)."""
    if not imports:
        return
    now = _now()
    firm_id, role = ctx.principal.firm_id, ctx.principal.role.value
    await ctx.session.execute(insert(Document.__table__), [
        {"id": d.document_id, "firm_id": firm_id, "client_id": d.client_id, "tax_year": d.tax_year,
         "filename": d.filename, "file_size": d.size, "mime_type": d.mime_type, "sha256": d.sha256,
         "s3_key": d.s3_key, "status": "uploaded", "source": d.source, "folder_area": d.folder_area,
         "folder_path": d.folder_path, "uploaded_by": None, "uploaded_by_role": role, "uploaded_at": now,
         "updated_at": now} for d in imports])
    await ctx.session.execute(insert(DocumentStatusHistory.__table__), [
        {"id": uuid.uuid4(), "document_id": d.document_id, "from_status": None, "to_status": "uploaded",
         "event": "import", "reason": d.source, "occurred_at": now} for d in imports])
    await ctx.audit_each("document.import", "document", [
        (d.document_id, d.client_id, {"size": d.size, "mime_type": d.mime_type, "sha256": d.sha256, "source": d.source})
        for d in imports])


async def replace_imported_content(ctx: ServiceContext, document: Document, *, filename: str, size: int,
                                   mime_type: str, sha256: str, s3_key: str, folder_area: str,
                                   folder_path: str) -> None:
    """The source changed an imported document: the row follows it in place (its old object stays for
    retention, as a deleted document's does)."""
    previous = document.sha256
    document.filename, document.file_size, document.mime_type = filename, size, mime_type
    document.sha256, document.s3_key = sha256, s3_key
    document.folder_area, document.folder_path = folder_area, folder_path
    document.updated_at = _now()
    await ctx.session.flush()
    await ctx.audit("document.reimport", "document", document.id, client_id=document.client_id,
                    details={"sha256": sha256, "previous_sha256": previous, "source": document.source})


def record_status(session, document: Document, status: str, *, event: str | None = None,
                  reason: str | None = None) -> None:
    """The one writer of an existing document's status: the status and its history row together. The same
    status without an event writes nothing (a retried step finds it set); with an event (a disclosure, a
    rerun) the row records the event even though the status stays."""
    if document.status == status and event is None:
        return
    session.add(DocumentStatusHistory(document_id=document.id, from_status=document.status, to_status=status,
                                      event=event, reason=reason))
    document.status = status
    document.updated_at = _now()


def readable_documents(ctx: ServiceContext) -> Select:
    """The documents the caller may read (those of the clients it may see): the one query of document
    visibility, under the list and every load."""
    return (select(Document).join(Client, Client.id == Document.client_id)
            .where(policy.client_visibility(ctx.principal, Client.firm_id, Client.id, Client.assigned_preparer_id),
                   Document.deleted_at.is_(None), Client.deleted_at.is_(None)))


async def check_client_documents(ctx: ServiceContext, client_id: uuid.UUID, document_ids: list[uuid.UUID],
                                 field: str) -> None:
    """References to documents (an answer's attachments, a note's document) must name live documents of the
    client they are about: a random id, another client's document or a deleted one is a 422 naming it."""
    wanted = set(document_ids)
    if not wanted:
        return
    found = set((await ctx.session.execute(select(Document.id).where(
        Document.id.in_(wanted), Document.client_id == client_id, Document.firm_id == ctx.principal.firm_id,
        Document.deleted_at.is_(None)))).scalars())
    missing = [str(d) for d in document_ids if d not in found]
    if missing:
        raise BusinessRuleViolation("A referenced document is not one of the client's documents", [
            FieldError(field, "unknown_document", f"no document {d} of this client") for d in dict.fromkeys(missing)],
            code="unknown_document")


async def load_visible_document(ctx: ServiceContext, document_id: uuid.UUID) -> Document:
    document = (await ctx.session.execute(readable_documents(ctx).where(Document.id == document_id))
                ).scalar_one_or_none()
    if document is None:
        raise NotFound("Document")
    return document


async def list_documents(ctx: ServiceContext, query: ListQuery) -> Page:
    policy.require(ctx.principal, "document.list")
    page = await paginate(ctx.session, readable_documents(ctx), query, DOCUMENT_LIST_SPEC)
    await ctx.audit("document.list", "document", details={"count": len(page.items)})
    return page


async def current_extraction(ctx_or_session, document_id: uuid.UUID) -> tuple[DocumentExtraction | None,
                                                                                 list[ExtractedField]]:
    session = getattr(ctx_or_session, "session", ctx_or_session)
    extraction = (await session.execute(
        select(DocumentExtraction).where(DocumentExtraction.document_id == document_id,
                                         DocumentExtraction.deleted_at.is_(None)))).scalar_one_or_none()
    if extraction is None:
        return None, []
    fields = (await session.execute(
        select(ExtractedField).where(ExtractedField.extraction_id == extraction.id)
        .order_by(ExtractedField.position, ExtractedField.field_name))).scalars().all()
    return extraction, list(fields)


async def get_document(ctx: ServiceContext, document_id: uuid.UUID):
    policy.require(ctx.principal, "document.read")
    document = await load_visible_document(ctx, document_id)
    extraction, fields = await current_extraction(ctx, document.id)
    # Extracted fields hold income and identifiers: reading them is a PII read.
    await ctx.audit("document.read", "document", document.id, client_id=document.client_id)
    return document, extraction, fields


async def authorize_download(ctx: ServiceContext, document_id: uuid.UUID,
                             prepare: Callable[[Document], Awaitable[T]]) -> tuple[Document, T]:
    """The document, once the caller may download it and the download's audit row is committed, with what
    `prepare(document)` made of it meanwhile (the store's stream opened, a URL signed): that work overlaps the
    audit row's commit, but its result is handed over only after it, so nothing of the file can reach the caller
    unaudited. When the audit fails, `prepare` is cancelled and its result never returned."""
    policy.require(ctx.principal, "document.download")
    document = await load_visible_document(ctx, document_id)
    prepared = asyncio.ensure_future(prepare(document))
    try:
        await ctx.audit_read("document.download", "document", document.id, client_id=document.client_id,
                             details={"sha256": document.sha256, "size": document.file_size})
    except BaseException:
        prepared.cancel()
        # A failure of its own, had it one, is not the answer: read, so that asyncio does not log it as unread.
        prepared.add_done_callback(lambda done: done.cancelled() or done.exception())
        raise
    return document, await prepared


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def update_document(ctx: ServiceContext, document_id: uuid.UUID, changes: dict) -> Document:
    policy.require(ctx.principal, "document.update")
    document = await load_visible_document(ctx, document_id)
    if "tax_year" in changes:
        changes["tax_year"] = parse_tax_year(changes["tax_year"])
    if "return_id" in changes and changes["return_id"] is not None:
        client = await load_visible_client(ctx, document.client_id)
        tax_return = await load_return_of_client(ctx, client, changes["return_id"])
        if tax_return.tax_year != changes.get("tax_year", document.tax_year):
            raise BusinessRuleViolation("The return is for another tax year",
                                        [FieldError("return_id", "mismatch",
                                                    f"the return is for {tax_return.tax_year}")])
    if "document_type" in changes:
        # A person's classification is final: re-running extraction keeps it (see classify_document).
        document.document_type = parse_type(changes.pop("document_type"))
        document.classification_basis = "staff"
        document.classification_confidence = Decimal("1.000")
    for name, value in changes.items():
        setattr(document, name, value)
    document.updated_at = _now()
    await ctx.session.flush()
    await ctx.audit("document.update", "document", document.id, client_id=document.client_id,
                    details={"fields": sorted(changes) + (["document_type"] if document.classification_basis
                                                          == "staff" else [])})
    return document


async def _linked_return_filed(ctx: ServiceContext, document: Document) -> bool:
    """A filed return's documents are part of the record that was filed: they cannot be deleted."""
    if document.return_id is None:
        return False
    tax_return = await ctx.session.get(TaxReturn, document.return_id)
    return tax_return is not None and tax_return.status in FILED_OR_LATER


async def _check_return_not_approved(ctx: ServiceContext, document: Document) -> None:
    """The extracted values of an approved return's documents are what the reviewer approved (issue 13, medium 9):
    a correction after approval is refused like a PATCH of the return's own data (the same code and rule,
    domain/tax_return/service.py `check_not_frozen`; that module imports this one, so the check is repeated)."""
    if document.return_id is None:
        return
    tax_return = await ctx.session.get(TaxReturn, document.return_id)
    if tax_return is not None and tax_return.status in APPROVED_OR_LATER:
        raise BusinessRuleViolation(
            f"The document's return is {tax_return.status}: its extracted values cannot change once the return is "
            f"approved. {reopen_hint(tax_return.status)}", code="return_approved")


async def delete_document(ctx: ServiceContext, document_id: uuid.UUID) -> None:
    policy.require(ctx.principal, "document.delete")
    document = await load_visible_document(ctx, document_id)
    if await _linked_return_filed(ctx, document):
        raise BusinessRuleViolation("Documents of a filed return cannot be deleted", code="return_filed")
    if document.source == ESIGN_SOURCE:
        # The sealed record of what a client signed, with its evidence (a Form 8879 is kept three years).
        raise BusinessRuleViolation("A signed document is the record of what was signed: it cannot be deleted",
                                    code="signed_record")
    document.deleted_at, document.deleted_by = _now(), ctx.principal.subject_id
    await ctx.audit("document.delete", "document", document.id, client_id=document.client_id)


async def update_field(ctx: ServiceContext, document_id: uuid.UUID, field_id: uuid.UUID,
                       changes: dict) -> ExtractedField:
    """A correction keeps the extractor's value in `original_value`, and who corrected it and when."""
    policy.require(ctx.principal, "extraction.update")
    document = await load_visible_document(ctx, document_id)
    extraction, fields = await current_extraction(ctx, document.id)
    field = next((f for f in fields if f.id == field_id), None)
    if extraction is None or field is None:
        raise NotFound("Extraction field")
    await _check_return_not_approved(ctx, document)
    now = _now()
    if "value" in changes and changes["value"] != field.value:
        if field.corrected_at is None:
            field.original_value = field.value
        field.value = changes["value"]
        field.corrected_by, field.corrected_at = ctx.principal.subject_id, now
    if changes.get("verified") is True or "value" in changes:
        # A value a person typed or confirmed needs no further review.
        field.needs_review = False
    if "verified" in changes:
        field.verified = bool(changes["verified"])
        field.verified_by, field.verified_at = (ctx.principal.subject_id, now) if field.verified else (None, None)
    refresh_extraction_status(extraction, fields)
    await ctx.session.flush()
    await ctx.audit("extraction.update_field", "extracted_field", field.id, client_id=document.client_id,
                    details={"document_id": str(document.id), "field_name": field.field_name,
                             "changed": sorted(changes)})
    return field


def refresh_extraction_status(extraction: DocumentExtraction, fields: list[ExtractedField]) -> None:
    if fields and all(f.verified for f in fields):
        extraction.status = "verified"
    elif any(f.needs_review for f in fields) or not fields:
        extraction.status = "needs_review"
    else:
        extraction.status = "extracted"


async def delete_extraction(ctx: ServiceContext, document_id: uuid.UUID) -> Document:
    policy.require(ctx.principal, "extraction.delete")
    document = await load_visible_document(ctx, document_id)
    await _check_return_not_approved(ctx, document)  # a new extraction would replace approved values
    extraction, _ = await current_extraction(ctx, document.id)
    if extraction is None:
        raise NotFound("Extraction")
    extraction.deleted_at, extraction.deleted_by = _now(), ctx.principal.subject_id
    document.extraction_confidence = None
    await ctx.audit("extraction.delete", "document", document.id, client_id=document.client_id,
                    details={"extraction_id": str(extraction.id)})
    return document


async def request_reprocessing(ctx: ServiceContext, document_id: uuid.UUID) -> Document:
    """Back to `uploaded` so the processing workflow runs again; refused while an extraction exists (delete it
    first, so corrections are never overwritten silently). The caller has checked that no processing workflow
    runs: only that tells a document being processed from one whose processing never started or was cut short,
    which its status alone (`uploaded`, `classifying`, `extracting`) cannot."""
    policy.require(ctx.principal, "extraction.rerun")
    document = await load_visible_document(ctx, document_id)
    await _check_return_not_approved(ctx, document)  # a new extraction would replace approved values
    extraction, _ = await current_extraction(ctx, document.id)
    if extraction is not None:
        raise Conflict("The document has an extraction: delete it first (DELETE …/extraction)")
    record_status(ctx.session, document, "uploaded", event="rerun")
    document.review_reason, document.processed_at = None, None
    await ctx.audit("extraction.rerun", "document", document.id, client_id=document.client_id)
    return document
