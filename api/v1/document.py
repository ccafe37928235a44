"""Documents (spec §6.1–6.9): streamed upload to S3, list, get with extraction, streamed download, metadata,
soft delete, extraction corrections, extraction delete and re-run, and the return's checklist."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.parse
import uuid
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from sqlalchemy.exc import IntegrityError

from api import envelope
from api.deps import Ctx, State, bearer_token, service_context
from api.json_route import JSONRoute
from api.schemas.base import patch_changes
from api.openapi import One, answers, list_of
from api.schemas.document import (
    UPLOAD_BODY, ChecklistOut, DocumentDetail, DocumentOut, DocumentUpdate, DocumentUploaded, FieldOut, FieldUpdate,
)
from api.state import AppState
from api.uploads import ReceivedUpload, receive_upload
from api.v1.client import iso
from domain import policy
from domain.context import ServiceContext
from domain.document import checklist as checklist_rules
from domain.document import service
from domain.document.models import Document, DocumentExtraction, ExtractedField
from domain.document.sniffing import safe_filename, sniff
from domain.errors import Conflict, FieldError, ValidationFailed
from domain.listing import parse_list_query
from domain.principal import Principal
from domain.document.types import normalize_type
from orchestration import document as workflow
from orchestration import outbox

router = APIRouter(route_class=JSONRoute, tags=["documents"])
log = logging.getLogger(__name__)

# Small enough that the first chunk reaches the caller early (the read of the next overlaps its sending), large
# enough that a thread hop per chunk is nothing next to it.
DOWNLOAD_CHUNK = 1024 * 1024


def _str(value) -> str | None:
    return str(value) if value is not None else None


def _decimal(value) -> float | None:
    return float(value) if value is not None else None


def document_out(document: Document) -> dict:
    return {
        "id": str(document.id),
        "client_id": str(document.client_id),
        "return_id": _str(document.return_id),
        "tax_year": document.tax_year,
        "document_type": document.document_type,
        "document_subtype": document.document_subtype,
        "filename": document.filename,
        "file_size": document.file_size,
        "mime_type": document.mime_type,
        "sha256": document.sha256,
        "status": document.status,
        "review_reason": document.review_reason,
        "extraction_confidence": _decimal(document.extraction_confidence),
        "source": document.source,
        "folder_area": document.folder_area,
        "folder_path": document.folder_path,
        "uploaded_at": iso(document.uploaded_at),
        "processed_at": iso(document.processed_at),
    }


def field_out(field: ExtractedField) -> dict:
    return {
        "id": str(field.id),
        "field_name": field.field_name,
        "value": field.value,
        "confidence": float(field.confidence),
        "needs_review": field.needs_review,
        "verified": field.verified,
        "source": field.source,
        "original_value": field.original_value,
        "corrected_by": _str(field.corrected_by),
        "corrected_at": iso(field.corrected_at),
        "verified_by": _str(field.verified_by),
        "verified_at": iso(field.verified_at),
    }


def extraction_out(extraction: DocumentExtraction | None, fields: list[ExtractedField]) -> dict | None:
    if extraction is None:
        return None
    return {"id": str(extraction.id), "status": extraction.status, "source": extraction.source,
            "overall_confidence": _decimal(extraction.overall_confidence),
            "fields": [field_out(f) for f in fields]}


# ---- processing ---------------------------------------------------------------------------------------------

async def _is_processing(state: AppState, document_id: uuid.UUID) -> bool:
    return await workflow.is_processing(await state.temporal(), document_id)


# ---- uploads ------------------------------------------------------------------------------------------------

async def authenticate(request: Request, state: AppState) -> Principal:
    """Before the body is read: an anonymous caller never gets to stream 50 MB at us."""
    async with state.sessionmaker.begin() as session:
        return await state.authenticator.authenticate(session, bearer_token(request))


@asynccontextmanager
async def transaction(state: AppState, principal: Principal) -> AsyncIterator[ServiceContext]:
    async with state.sessionmaker() as session:
        try:
            async with session.begin():
                yield service_context(session, principal, state)
        except IntegrityError as exc:
            raise Conflict("The change conflicts with existing data") from exc


async def store_object_then_row(state: AppState, key: str, upload: ReceivedUpload, mime_type: str,
                                record) -> object:
    """Put the object, then commit its row (`record()` runs inside the caller's transaction context and is
    committed when it exits). If anything after the put fails — the insert, the commit — the object is
    deleted again: no object without its row, and (the put coming first) no row without its object."""
    upload.spool.seek(0)
    await asyncio.to_thread(state.storage.upload_stream, key, upload.spool, mime_type)
    try:
        return await record()
    except BaseException:
        try:
            await asyncio.to_thread(state.storage.delete, key)
        except Exception:
            log.exception("could not delete orphaned object %s", key)
        raise


def _uuid_field(fields: dict, name: str, required: bool) -> uuid.UUID | None:
    raw = fields.get(name) or None
    if raw is None:
        if required:
            raise ValidationFailed(errors=[FieldError(name, "required", f"{name} is required")])
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ValidationFailed(errors=[FieldError(name, "invalid_format", f"{name} must be a UUID")]) from None


ALLOWED_UPLOAD_FIELDS = frozenset({"client_id", "return_id", "tax_year", "document_type"})


@router.post("/documents", summary="Upload a document", operation_id="upload_document",
             **answers(One(DocumentUploaded), 403, 404, 409, 413, 415, 422, status=201, body=UPLOAD_BODY))
async def upload_document(request: Request, state: State):
    """multipart/form-data: `file`, `client_id`, `tax_year`, optional `return_id` and `document_type` (a hint).
    The type is recognised from the bytes (PDF, JPEG, PNG, HEIC, DOCX, XLSX, CSV); at most 50 MB, enforced
    while the file streams in. Processing (classification, extraction) runs afterwards; poll the document."""
    principal = await authenticate(request, state)
    upload = await receive_upload(request, state.settings.document_max_bytes)
    try:
        unknown = sorted(set(upload.fields) - ALLOWED_UPLOAD_FIELDS)
        if unknown:
            raise ValidationFailed(errors=[FieldError(n, "unknown_field", "Unknown field") for n in unknown])
        client_id = _uuid_field(upload.fields, "client_id", True)
        return_id = _uuid_field(upload.fields, "return_id", False)
        tax_year = service.parse_tax_year(upload.fields.get("tax_year"))
        hint = service.parse_type(upload.fields.get("document_type"))
        filename = safe_filename(upload.filename)
        sniffed = sniff(upload.spool, upload.size)
        document_id = uuid.uuid4()

        async with transaction(state, principal) as ctx:
            target = await service.check_upload(ctx, client_id, return_id, tax_year, hint)
            key = service.document_key(principal.firm_id, client_id, document_id)

            async def record():
                document = await service.record_upload(ctx, target, document_id, filename, upload.size,
                                                       sniffed.mime_type, upload.sha256, key)
                # Committed with the row: processing starts after the commit, or from the relay.
                pending.append(await state.outbox.add(
                    ctx.session, workflow.processing_requested(document.id, document.firm_id)))
                return document

            pending: list[outbox.Pending] = []
            document = await store_object_then_row(state, key, upload, sniffed.mime_type, record)
    finally:
        upload.close()
    await state.outbox.send(*pending)
    return envelope.one({"id": str(document.id), "status": document.status, "filename": document.filename,
                         "file_size": document.file_size, "mime_type": document.mime_type,
                         "sha256": document.sha256, "uploaded_at": iso(document.uploaded_at)})


# ---- reads --------------------------------------------------------------------------------------------------

@router.get("/documents", summary="List documents", operation_id="list_documents",
            **answers(list_of(DocumentOut, service.DOCUMENT_LIST_SPEC)))
async def list_documents(request: Request, ctx: Ctx):
    """Filters: client_id, return_id, tax_year, document_type (W-2, 1099-DIV … or w2, 1099_div), status,
    source, uploaded_at__gte/lte. Newest first by default."""
    params = [(k, _normalized_type_param(k, v)) for k, v in request.query_params.multi_items()]
    query = parse_list_query(params, service.DOCUMENT_LIST_SPEC)
    return envelope.page(await service.list_documents(ctx, query), query, document_out)


def _normalized_type_param(name: str, value: str) -> str:
    if name == "document_type":
        return normalize_type(value) or value
    if name == "document_type__in":
        return ",".join(normalize_type(v) or v for v in value.split(","))
    return value


@router.get("/documents/{document_id}", summary="Get a document with its extraction", operation_id="get_document",
            **answers(One(DocumentDetail), 404))
async def get_document(document_id: uuid.UUID, ctx: Ctx):
    document, extraction, fields = await service.get_document(ctx, document_id)
    return envelope.one({**document_out(document), "extraction": extraction_out(extraction, fields)})


def _content_disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{urllib.parse.quote(filename)}"


def _download_answers() -> dict:
    """The streamed bytes (200), or with `redirect=true` a 307 to the store, which `answers` has no words for."""
    declared = answers(None, 403, 404, description="The stored bytes, as uploaded",
                       content={"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                       answer_headers={"X-Content-SHA256": {"description": "SHA-256 of the bytes, hex",
                                                            "schema": {"type": "string"}}})
    declared["responses"][307] = {
        "description": "With `redirect=true`: to a presigned URL of the object in the store, good for "
                       "`DOWNLOAD_URL_SECONDS`; the audit row is committed before it is issued",
        "headers": {"Location": {"description": "the presigned URL", "schema": {"type": "string", "format": "uri"}},
                    "X-Content-SHA256": {"description": "SHA-256 of the bytes, hex", "schema": {"type": "string"}}}}
    return declared


@router.get("/documents/{document_id}/download", summary="Download a document's file",
            operation_id="download_document", response_class=StreamingResponse, **_download_answers())
async def download_document(document_id: uuid.UUID, state: State, request: Request,
                            redirect: bool = Query(False, description=(
                                "Answer 307 to a short-lived presigned URL of the store instead of the bytes, for "
                                "clients that follow redirects (docs/document.md, Downloads)"))):
    """The stored bytes as an attachment, streamed; or, with `redirect=true`, a 307 to a presigned URL of the
    object. Either way the download is written to the audit log, and committed, before a byte can leave."""
    async def sign_url(document: Document) -> str:
        return await asyncio.to_thread(state.storage.presigned_download, document.s3_key,
                                       state.settings.download_url_seconds, document.mime_type,
                                       _content_disposition(document.filename))

    async def open_body(document: Document):
        return await _opened(state.storage.open_stream, document.s3_key)

    # One transaction: the token's session, the document's. The store's GET (7 ms to its headers) or the URL's
    # signing runs while the audit row commits (service.authorize_download).
    async with state.sessionmaker.begin() as session:
        principal = await state.authenticator.authenticate(session, bearer_token(request))
        document, prepared = await service.authorize_download(service_context(session, principal, state),
                                                              document_id, sign_url if redirect else open_body)
    headers = {"X-Content-SHA256": document.sha256, "Cache-Control": "no-store"}
    if redirect:
        return RedirectResponse(prepared, status_code=307, headers=headers)
    body, length, _ = prepared
    return StreamingResponse(read_ahead(body), media_type=document.mime_type, headers={
        **headers, "Content-Length": str(length), "Content-Disposition": _content_disposition(document.filename),
        "X-Content-Type-Options": "nosniff"})


async def _opened(open_stream, key: str):
    """`open_stream(key)` on a thread. Cancelled (the audit failed, the caller left), the thread still finishes
    the GET: the body it opens is then closed, not left holding a pooled connection to the store."""
    opening = asyncio.ensure_future(asyncio.to_thread(open_stream, key))
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        opening.add_done_callback(_close_opened)
        raise


def _close_opened(opening: asyncio.Future) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result()[0].close()


async def read_ahead(body) -> AsyncIterator[bytes]:
    """The object's chunks, the next one read (on a thread) while the last one is being sent: S3's bytes and the
    caller's overlap instead of taking turns (bench/bench_document.py)."""
    chunks = body.iter_chunks(DOWNLOAD_CHUNK)
    pending = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
    try:
        while (chunk := await pending) is not None:
            pending = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
            yield chunk
    finally:
        # A caller that left mid-file: the read in flight ends (a thread cannot be interrupted) before the body
        # and its pooled connection are closed under it.
        with contextlib.suppress(Exception):
            await pending
        body.close()


# ---- writes -------------------------------------------------------------------------------------------------

@router.patch("/documents/{document_id}", summary="Update a document's metadata", operation_id="update_document",
              **answers(One(DocumentOut), 403, 404, 409, 422))
async def update_document(document_id: uuid.UUID, body: DocumentUpdate, ctx: Ctx):
    """document_type (a person's classification is kept on re-extraction), tax_year, return_id."""
    changes = patch_changes(body)
    return envelope.one(document_out(await service.update_document(ctx, document_id, changes)))


@router.delete("/documents/{document_id}", summary="Soft-delete a document", operation_id="delete_document",
               **answers(None, 403, 404, 409, 422, status=204, description="Deleted"))
async def delete_document(document_id: uuid.UUID, ctx: Ctx):
    """Refused (422) once the document's return is filed."""
    await service.delete_document(ctx, document_id)
    return Response(status_code=204)


@router.patch("/documents/{document_id}/extraction/fields/{field_id}", summary="Correct an extracted field",
              operation_id="update_extracted_field", **answers(One(FieldOut), 403, 404, 409, 422))
async def update_field(document_id: uuid.UUID, field_id: uuid.UUID, body: FieldUpdate, ctx: Ctx):
    """`value` and/or `verified`; the extractor's value is kept as `original_value`, with who and when."""
    changes = patch_changes(body)
    return envelope.one(field_out(await service.update_field(ctx, document_id, field_id, changes)))


@router.delete("/documents/{document_id}/extraction", summary="Delete a document's extraction",
               operation_id="delete_extraction", **answers(None, 403, 404, 409, 422, status=204, description="Deleted"))
async def delete_extraction(document_id: uuid.UUID, ctx: Ctx):
    """The fields are kept for the record but no longer current; POST …/extraction runs extraction again."""
    await service.delete_extraction(ctx, document_id)
    return Response(status_code=204)


@router.post("/documents/{document_id}/extraction", summary="Run extraction again", operation_id="rerun_extraction",
             **answers(One(DocumentOut), 403, 404, 409, 422, status=202, description="Accepted"))
async def rerun_extraction(document_id: uuid.UUID, state: State, request: Request):
    """Classification (unless a person set the type) and extraction run again. 409 while processing runs or
    while an extraction exists."""
    principal = await authenticate(request, state)
    async with transaction(state, principal) as ctx:
        # Who may, and whose document, first: another firm's document is a 404 before anything is said of it.
        policy.require(ctx.principal, "extraction.rerun")
        await service.load_visible_document(ctx, document_id)
    if await _is_processing(state, document_id):
        raise Conflict("The document is still being processed")
    async with transaction(state, principal) as ctx:
        document = await service.request_reprocessing(ctx, document_id)
        pending = await state.outbox.add(ctx.session,
                                         workflow.processing_requested(document.id, document.firm_id))
    await state.outbox.send(pending)
    return envelope.one(document_out(document))


@router.get("/returns/{return_id}/documents/checklist", summary="A return's document checklist",
            operation_id="get_document_checklist", **answers(One(ChecklistOut), 403, 404))
async def get_checklist(return_id: uuid.UUID, ctx: Ctx):
    """Expected documents (from the return type and the prior year's documents), received or missing, and
    the unexpected ones."""
    checklist = await checklist_rules.checklist_for_visible_return(ctx, return_id)
    return envelope.one(checklist.as_dict())


