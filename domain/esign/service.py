"""Signature requests: opened when a document is sent, completed or declined by the provider's callback (with its
evidence), and the one question e-filing asks: is a signed Form 8879 on file for this return?"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import policy
from domain.context import ServiceContext
from domain.document.models import Document
from domain.document.service import document_key
from domain.document.types import ESIGN_SOURCE
from domain.esign.evidence import parse_time
from domain.esign.models import SignatureRequest

DOCUMENT_TYPES = {"engagement": "ENGAGEMENT_LETTER", "consent": "FORM_7216", "form_8879": "FORM_8879"}


def unsigned_key(firm_id: uuid.UUID, client_id: uuid.UUID, request_id: uuid.UUID, filename: str) -> str:
    """The PDF as sent, under a key that ends in its (server-made) file name."""
    return f"signatures/{firm_id}/{client_id}/{request_id}/{filename}"


def filename_of(request: SignatureRequest) -> str:
    return request.document_key.rsplit("/", 1)[-1]


async def live_request(session: AsyncSession, subject_type: str, subject_id: uuid.UUID) -> SignatureRequest | None:
    """The subject's request that is being sent, waits for the signer, or is completed (at most one)."""
    return (await session.execute(select(SignatureRequest).where(
        SignatureRequest.subject_type == subject_type, SignatureRequest.subject_id == subject_id,
        SignatureRequest.status.in_(("sending", "sent", "completed"))))).scalar_one_or_none()


async def latest_request(session: AsyncSession, subject_type: str, subject_id: uuid.UUID) -> SignatureRequest | None:
    return (await session.execute(select(SignatureRequest).where(
        SignatureRequest.subject_type == subject_type, SignatureRequest.subject_id == subject_id)
        .order_by(SignatureRequest.created_at.desc()).limit(1))).scalar_one_or_none()


async def by_provider_id(session: AsyncSession, provider_request_id: str) -> SignatureRequest | None:
    """Locked: two callbacks for one request (completed and a stale decline) apply one after the other."""
    return (await session.execute(select(SignatureRequest).where(
        SignatureRequest.provider_request_id == provider_request_id).with_for_update())).scalar_one_or_none()


async def open_request(ctx: ServiceContext, *, request_id: uuid.UUID, client_id: uuid.UUID, subject_type: str,
                       subject_id: uuid.UUID, signer_name: str, signer_email: str, title: str, document_key: str,
                       document_sha256: str) -> SignatureRequest:
    """The request, before the provider is asked: the unsigned PDF is stored and its hash recorded."""
    policy.require(ctx.principal, "esign.workflow")
    request = SignatureRequest(id=request_id, firm_id=ctx.principal.firm_id, client_id=client_id,
                               subject_type=subject_type, subject_id=subject_id, provider="google", status="sending",
                               signer_name=signer_name, signer_email=signer_email, title=title,
                               document_key=document_key, document_sha256=document_sha256)
    ctx.session.add(request)
    await ctx.session.flush()
    return request


async def mark_request_sent(ctx: ServiceContext, request: SignatureRequest, provider_request_id: str,
                            sent_at: datetime) -> None:
    policy.require(ctx.principal, "esign.workflow")
    if request.status == "sending":
        request.status, request.provider_request_id, request.sent_at = "sent", provider_request_id, sent_at
        await ctx.audit("signature.sent", "signature_request", request.id, client_id=request.client_id,
                        details={"subject_type": request.subject_type, "subject_id": str(request.subject_id),
                                 "provider_request_id": provider_request_id,
                                 "document_sha256": request.document_sha256})


async def mark_request_closed(ctx: ServiceContext, request: SignatureRequest, status: str) -> None:
    """Canceled (a consent revoked before signing) or expired (an engagement letter not signed in time)."""
    policy.require(ctx.principal, "esign.workflow")
    if request.status in ("sending", "sent"):
        request.status = status
        await ctx.audit(f"signature.{status}", "signature_request", request.id, client_id=request.client_id,
                        details={"subject_type": request.subject_type, "subject_id": str(request.subject_id)})


async def record_signed_document(ctx: ServiceContext, request: SignatureRequest, *, document_id: uuid.UUID,
                                 tax_year: int, return_id: uuid.UUID | None, filename: str, size: int,
                                 sha256: str) -> Document:
    """The sealed PDF (certificate of completion appended, PAdES seal), kept as the client's document of its type
    (ENGAGEMENT_LETTER, FORM_7216, FORM_8879) with the request's evidence beside it."""
    policy.require(ctx.principal, "esign.workflow")
    key = document_key(request.firm_id, request.client_id, document_id)
    document = Document(
        id=document_id, firm_id=request.firm_id, client_id=request.client_id, return_id=return_id,
        tax_year=tax_year, document_type=DOCUMENT_TYPES[request.subject_type], classification_basis="esign",
        filename=filename, file_size=size, mime_type="application/pdf", sha256=sha256, s3_key=key,
        status="processed", source=ESIGN_SOURCE, uploaded_by=None, uploaded_by_role=ctx.principal.role.value)
    ctx.session.add(document)
    request.signed_document_key, request.signed_document_sha256 = key, sha256
    request.signed_document_id = document_id
    await ctx.session.flush()
    await ctx.audit("signature.document_stored", "signature_request", request.id, client_id=request.client_id,
                    details={"document_id": str(document_id), "sha256": sha256,
                             "document_type": document.document_type})
    return document


def record_completed(request: SignatureRequest, evidence: dict) -> datetime:
    """The signer signed: the evidence (already checked, domain/esign/evidence.py) is kept with the request."""
    request.status, request.evidence = "completed", evidence
    request.completed_at = parse_time(evidence["completed_at"])
    return request.completed_at


def record_declined(request: SignatureRequest, reason: str | None, evidence: dict | None) -> datetime | None:
    request.status, request.evidence = "declined", evidence
    request.declined_reason = (reason or None) and reason[:500]
    request.completed_at = parse_time((evidence or {}).get("completed_at"))
    return request.completed_at
