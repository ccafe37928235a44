"""Activities of a document sent for signature (an engagement letter, a Form 7216 consent): render and store the
PDF, ask the e-signature provider, remind, close, expire, and seal and keep the signed PDF.

Each is idempotent. The unsigned PDF is stored and its request row written before the provider is asked, and the
provider is asked with the request's id as the idempotency key, so a retried send mails one link. Every write goes
through the domain services under `ServiceContext.for_system` (the system actor)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import datetime, timezone

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.client.models import Client
from domain.consent import service as consents
from domain.consent.form import render_consent
from domain.consent.models import Consent
from domain.context import ServiceContext
from domain.engagement import service as engagements
from domain.engagement.letter import render_letter
from domain.engagement.models import Engagement
from domain.errors import BusinessRuleViolation
from domain.esign import service as esign
from domain.esign.form_8879 import render_8879
from domain.esign.certificate import certificate, with_certificate
from domain.esign.models import SignatureRequest
from domain.firm.models import Firm
from domain.tax_return.models import TaxReturn
from integrations.esign import SignerRequest
from integrations.providers import ESignature, ObjectStorage
from integrations.seal import PdfSealer
from orchestration.signing import SendResult

SOURCE = "signature_workflow"
MODELS = {"consent": Consent, "engagement": Engagement, "form_8879": TaxReturn}
# The subject's statuses from which it is sent; and its step once sent (a return moves through its own workflow).
SENDABLE = {"consent": ("pending",), "engagement": ("draft",), "form_8879": ("approved", "pending_signature")}


async def _return_unchanged(ctx: ServiceContext, return_id: uuid.UUID, request: SignatureRequest) -> TaxReturn:
    return await ctx.session.get(TaxReturn, return_id)


MARK_SENT = {"consent": consents.mark_sent, "engagement": engagements.mark_sent, "form_8879": _return_unchanged}
SERVICES = {"consent": consents, "engagement": engagements}


class SigningRef(BaseModel):
    subject_type: str
    subject_id: uuid.UUID


class StepInput(BaseModel):
    subject_type: str
    subject_id: uuid.UUID
    at: datetime  # the workflow's time: a step decided by a timer is judged at the timer's instant


class SubjectState(BaseModel):
    status: str
    expires_at: datetime | None = None


def _not_sendable(ref: SigningRef, reason: str) -> BusinessRuleViolation:
    return BusinessRuleViolation(f"The {ref.subject_type} cannot be sent: {reason}",
                                 code=f"{ref.subject_type}_not_sendable")


class ESignActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], esignature: ESignature | None,
                 storage: ObjectStorage, sealer: PdfSealer):
        self.sessionmaker, self.esignature, self.storage, self.sealer = sessionmaker, esignature, storage, sealer

    async def _context(self, session: AsyncSession, ref: SigningRef) -> tuple[ServiceContext, object]:
        subject = await session.get(MODELS[ref.subject_type], ref.subject_id)
        if subject is None:
            raise _not_sendable(ref, "it does not exist")
        return ServiceContext.for_system(session, subject.firm_id, SOURCE), subject

    def _document(self, ref: SigningRef, subject, client: Client, firm: Firm) -> tuple[str, str, bytes]:
        """(title, file name, PDF) of what the client signs."""
        if ref.subject_type == "consent":
            title = f"Form 7216 consent ({subject.kind}) for {subject.third_party_name}, {subject.tax_year}"
            return title, f"form-7216-{subject.tax_year}.pdf", render_consent(subject, client.name, firm.name)
        if ref.subject_type == "form_8879":
            title = f"Form 8879 for your {subject.tax_year} tax return"
            return title, f"form-8879-{subject.tax_year}.pdf", render_8879(subject, client.name, firm.name)
        title = f"Engagement letter {subject.tax_year} from {firm.name}"
        return title, f"engagement-letter-{subject.tax_year}.pdf", render_letter(subject, client.name, firm.name)

    @activity.defn(name="esign.send")
    async def send(self, ref: SigningRef) -> SendResult:
        if self.esignature is None:
            raise _not_sendable(ref, "no e-signature provider is configured (GOOGLE_API_URL)")
        async with self.sessionmaker.begin() as session:
            ctx, subject = await self._context(session, ref)
            request = await esign.live_request(session, ref.subject_type, ref.subject_id)
            if request is None:
                if subject.status not in SENDABLE[ref.subject_type]:
                    raise _not_sendable(ref, f"it is {subject.status}")
                client = await session.get(Client, subject.client_id)
                firm = await session.get(Firm, subject.firm_id)
                title, filename, pdf = self._document(ref, subject, client, firm)
                request_id = uuid.uuid4()
                key = esign.unsigned_key(subject.firm_id, subject.client_id, request_id, filename)
                await asyncio.to_thread(self.storage.put_bytes, key, pdf, "application/pdf")
                request = await esign.open_request(
                    ctx, request_id=request_id, client_id=subject.client_id, subject_type=ref.subject_type,
                    subject_id=ref.subject_id, signer_name=client.name, signer_email=client.email, title=title,
                    document_key=key, document_sha256=hashlib.sha256(pdf).hexdigest())
        if request.status == "sending":
            pdf = await asyncio.to_thread(self.storage.get_bytes, request.document_key)
            sent = await self.esignature.create_request(SignerRequest(
                title=request.title, filename=esign.filename_of(request), signer_name=request.signer_name,
                signer_email=request.signer_email,
                message=f"{request.title} is ready for your signature.",
                metadata={"signature_request_id": str(request.id), "subject_type": ref.subject_type}),
                pdf, idempotency_key=f"signature-request:{request.id}")
            if sent.document_sha256 != request.document_sha256:
                raise _not_sendable(ref, "the provider received other bytes than were sent")
            async with self.sessionmaker.begin() as session:
                ctx, _ = await self._context(session, ref)
                request = await session.get(SignatureRequest, request.id, with_for_update=True)
                await esign.mark_request_sent(ctx, request, sent.request_id, datetime.now(timezone.utc))
        async with self.sessionmaker.begin() as session:
            ctx, _ = await self._context(session, ref)
            request = await session.get(SignatureRequest, request.id)
            subject = await MARK_SENT[ref.subject_type](ctx, ref.subject_id, request)
            return SendResult(signature_request_id=request.id, status=subject.status, sent_at=request.sent_at)

    @activity.defn(name="esign.state")
    async def state(self, ref: SigningRef) -> SubjectState:
        async with self.sessionmaker() as session:
            subject = await session.get(MODELS[ref.subject_type], ref.subject_id)
            return SubjectState(status=subject.status, expires_at=getattr(subject, "expires_at", None))

    @activity.defn(name="esign.remind")
    async def remind(self, data: StepInput) -> str:
        """A reminder mail through the provider, while the letter still waits for the signer."""
        async with self.sessionmaker() as session:
            subject = await session.get(MODELS[data.subject_type], data.subject_id)
            request = await esign.live_request(session, data.subject_type, data.subject_id)
        if subject.status != "pending_signature" or request is None or request.status != "sent":
            return subject.status
        day = (data.at - request.sent_at).days
        await self.esignature.remind(request.provider_request_id, idempotency_key=f"remind:{request.id}:{day}")
        async with self.sessionmaker.begin() as session:
            ctx, _ = await self._context(session, SigningRef(subject_type=data.subject_type, subject_id=data.subject_id))
            await ctx.audit("signature.reminded", "signature_request", request.id, client_id=request.client_id,
                            details={"day": day})
        return subject.status

    async def _close_request(self, ref: SigningRef, status: str) -> None:
        async with self.sessionmaker() as session:
            request = await esign.live_request(session, ref.subject_type, ref.subject_id)
        if request is None or request.status not in ("sending", "sent"):
            return
        if request.provider_request_id:
            await self.esignature.cancel(request.provider_request_id, idempotency_key=f"cancel:{request.id}")
        async with self.sessionmaker.begin() as session:
            ctx, _ = await self._context(session, ref)
            locked = await session.get(SignatureRequest, request.id, with_for_update=True)
            await esign.mark_request_closed(ctx, locked, status)

    @activity.defn(name="esign.cancel")
    async def cancel(self, ref: SigningRef) -> None:
        """The signing link closed: the consent was revoked before it was signed."""
        await self._close_request(ref, "canceled")

    @activity.defn(name="esign.expire")
    async def expire(self, data: StepInput) -> str:
        """The subject's timer fired: an unsigned letter expires (and its link closes); a consent past its end
        expires. Returns the subject's status afterwards."""
        ref = SigningRef(subject_type=data.subject_type, subject_id=data.subject_id)
        async with self.sessionmaker.begin() as session:
            ctx, _ = await self._context(session, ref)
            status = await SERVICES[data.subject_type].expire(ctx, data.subject_id, data.at)
        if data.subject_type == "engagement" and status == "expired":
            await self._close_request(ref, "expired")
        return status

    @activity.defn(name="esign.store_signed")
    async def store_signed(self, ref: SigningRef) -> uuid.UUID:
        """The signed PDF: the document as sent (its hash checked against the one the signer's evidence names),
        the certificate of completion appended, sealed with the firm's certificate, kept as the client's
        document. Returns the document's id."""
        async with self.sessionmaker() as session:
            request = await esign.live_request(session, ref.subject_type, ref.subject_id)
            if request is None or request.status != "completed":
                raise BusinessRuleViolation(f"The {ref.subject_type} has no completed signature",
                                            code="signature_not_completed")
            if request.signed_document_id is not None:
                return request.signed_document_id
            firm = await session.get(Firm, request.firm_id)
            subject = await session.get(MODELS[ref.subject_type], ref.subject_id)
        original = await asyncio.to_thread(self.storage.get_bytes, request.document_key)
        if hashlib.sha256(original).hexdigest() != request.document_sha256:
            raise BusinessRuleViolation("The stored document is not the one that was signed",
                                        code="signed_document_altered")
        sealed = await self.sealer.seal(with_certificate(original, certificate(request, firm.name)),
                                        reason=f"Signed by {request.signer_name}; sealed by {firm.name}")
        # A fresh id per attempt: a retry after a lost commit writes another object, never overwrites a kept one.
        document_id = uuid.uuid4()
        await asyncio.to_thread(self.storage.put_bytes, esign.document_key(request.firm_id, request.client_id,
                                                                          document_id), sealed, "application/pdf")
        async with self.sessionmaker.begin() as session:
            ctx, _ = await self._context(session, ref)
            locked = await session.get(SignatureRequest, request.id, with_for_update=True)
            if locked.signed_document_id is not None:
                return locked.signed_document_id
            await esign.record_signed_document(
                ctx, locked, document_id=document_id, tax_year=subject.tax_year,
                return_id=subject.id if ref.subject_type == "form_8879" else None,
                filename=esign.filename_of(request).removesuffix(".pdf") + "-signed.pdf", size=len(sealed),
                sha256=hashlib.sha256(sealed).hexdigest())
            return document_id
