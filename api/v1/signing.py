"""What the routers of documents sent for e-signature (consents, engagement letters, Form 8879) render alike: the
signature request and the answer of a send."""

from __future__ import annotations

import uuid

from api.openapi import One
from api.schemas.signing import SendOut
from api.v1.client import iso
from domain.esign.models import SignatureRequest


def _id(value) -> str | None:
    return str(value) if value is not None else None


def signature_out(request: SignatureRequest | None) -> dict | None:
    if request is None:
        return None
    return {
        "id": str(request.id), "status": request.status, "provider": request.provider,
        "provider_request_id": request.provider_request_id, "signer_name": request.signer_name,
        "signer_email": request.signer_email, "document_sha256": request.document_sha256,
        "signed_document_id": _id(request.signed_document_id),
        "signed_document_sha256": request.signed_document_sha256, "sent_at": iso(request.sent_at),
        "completed_at": iso(request.completed_at), "declined_reason": request.declined_reason,
        "evidence": request.evidence,
    }


def sent_out(subject_id: uuid.UUID, status: str, request_id: uuid.UUID | None = None, sent_at=None) -> dict:
    """A send's answer (SendOut): without the request's id and time while the provider is slow (202)."""
    return {"id": str(subject_id), "status": status, "signature_request_id": _id(request_id), "sent_at": iso(sent_at)}


# A send's other answer: the provider is slow and the subject's workflow keeps sending.
SENDING = {202: (One(SendOut), ("The provider is slow: the workflow keeps sending (`signature_request_id` and "
                                "`sent_at` are null)"))}
