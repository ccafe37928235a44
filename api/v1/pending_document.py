"""Upload-first documents (spec §6.10): pending uploads grouped in batches, and create-client from a batch."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api import envelope
from api.deps import Ctx, State
from api.json_route import JSONRoute
from api.openapi import One, Page, answers
from api.schemas.document import (
    PENDING_UPLOAD_BODY, BatchOut, ClientFromBatch, CreateClientFromBatch, PendingDocumentOut,
)
from api.uploads import receive_upload
from api.v1.client import iso
from api.v1.document import authenticate, store_object_then_row, transaction
from domain import policy
from domain.document import batch as batch_service
from domain.document.models import PendingDocument
from domain.document.sniffing import safe_filename, sniff
from domain.errors import FieldError, ValidationFailed
from domain.principal import Principal
from orchestration import document as document_workflow
from orchestration import tax_return as return_workflow

router = APIRouter(route_class=JSONRoute, tags=["pending documents"])


async def _caller(request: Request, state: State) -> Principal:
    return await authenticate(request, state)


# A dependency, so that an anonymous caller is answered 401 before its body is even validated.
Caller = Annotated[Principal, Depends(_caller)]


def pending_out(row: PendingDocument) -> dict:
    return {
        "id": str(row.id),
        "upload_batch_id": row.upload_batch_id,
        "original_filename": row.original_filename,
        "file_size_bytes": row.file_size_bytes,
        "mime_type": row.mime_type,
        "sha256": row.sha256,
        "document_type": row.document_type,
        "tax_year": row.tax_year,
        "s3_key": row.s3_key,
        "source": row.source,
        "uploaded_at": iso(row.uploaded_at),
    }


@router.post("/pending-documents", summary="Upload a document before its client exists",
             operation_id="upload_pending_document",
             **answers(One(PendingDocumentOut), 403, 409, 413, 415, 422, status=201, body=PENDING_UPLOAD_BODY))
async def upload_pending(request: Request, state: State):
    """multipart/form-data: `file` and `batch_id`. Same checks as POST /documents (bytes, 50 MB cap)."""
    principal = await authenticate(request, state)
    policy.require(principal, "pending_document.upload")
    upload = await receive_upload(request, state.settings.document_max_bytes)
    try:
        unknown = sorted(set(upload.fields) - {"batch_id"})
        if unknown:
            raise ValidationFailed(errors=[FieldError(n, "unknown_field", "Unknown field") for n in unknown])
        batch_id = batch_service.check_batch_id(upload.fields.get("batch_id"))
        filename = safe_filename(upload.filename)
        sniffed = sniff(upload.spool, upload.size)
        document_type, tax_year = await asyncio.to_thread(batch_service.quick_classify, upload.spool,
                                                          sniffed.mime_type, filename, state.settings.pdf_limits)
        pending_id = uuid.uuid4()
        key = batch_service.pending_key(principal.firm_id, pending_id)
        async with transaction(state, principal) as ctx:
            row = PendingDocument(id=pending_id, firm_id=principal.firm_id, upload_batch_id=batch_id,
                                  original_filename=filename, file_size_bytes=upload.size,
                                  mime_type=sniffed.mime_type, sha256=upload.sha256, s3_key=key,
                                  document_type=document_type, tax_year=tax_year, source="staff_upload",
                                  uploaded_by=principal.subject_id)
            row = await store_object_then_row(state, key, upload, sniffed.mime_type,
                                              lambda: batch_service.record_pending(ctx, row))
    finally:
        upload.close()
    return envelope.one(pending_out(row))


@router.get("/pending-documents/batches", summary="List batches of pending documents",
            operation_id="list_pending_batches", **answers(Page(BatchOut), 403))
async def list_batches(ctx: Ctx):
    batches = await batch_service.list_batches(ctx)
    return envelope.many({
        "batch_id": b["batch_id"],
        "document_count": len(b["documents"]),
        "uploaded_at": iso(min(d.uploaded_at for d in b["documents"])),
        "documents": [{k: pending_out(d)[k] for k in ("id", "original_filename", "document_type", "tax_year",
                                                      "mime_type", "file_size_bytes")} for d in b["documents"]],
    } for b in batches)


@router.post("/batch/{batch_id}/create-client", summary="Create a client from a batch",
             operation_id="create_client_from_batch", **answers(One(ClientFromBatch), 403, 404, 409, 422, status=201))
async def create_client_from_batch(batch_id: str, body: CreateClientFromBatch, principal: Caller, state: State):
    """Creates the client (name = first + last), its return (individual → 1040) in intake, and moves the
    batch's documents to the return; each then runs through classification and extraction."""
    async with transaction(state, principal) as ctx:
        client, tax_return, documents = await batch_service.create_client_from_batch(
            ctx, batch_id, body.model_dump(), state.cipher)
        # Through the outbox, as POST /returns and uploads do: the return gets its workflow, and each document
        # its processing, even if Temporal cannot be reached now.
        pending = [await state.outbox.add(ctx.session, return_workflow.started(tax_return.id))]
        pending += [await state.outbox.add(ctx.session,
                                           document_workflow.processing_requested(d.id, d.firm_id))
                    for d in documents]
    # Committed: only now may the return's and the documents' workflows start.
    await state.outbox.send(*pending)
    return envelope.one({
        "client": {"id": str(client.id), "account_number": client.account_number, "first_name": body.first_name,
                   "last_name": body.last_name, "name": client.name},
        "return": {"id": str(tax_return.id), "tax_year": tax_return.tax_year, "return_type": body.return_type,
                   "form": tax_return.return_type, "status": tax_return.status},
        "documents_assigned": len(documents),
    })
