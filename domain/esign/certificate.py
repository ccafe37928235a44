"""The certificate of completion appended to every signed PDF: who signed, from where, with what, each event and
its time, and the SHA-256 of the document as it was before signing (what the signer saw)."""

from __future__ import annotations

import io

from pypdf import PdfReader, PdfWriter

from domain.esign.models import SignatureRequest
from domain.esign.pdf import Block, render

EVENT_NAMES = {"sent": "Sent to the signer", "reminded": "Reminder sent", "viewed": "Signing page opened",
               "document_viewed": "Document opened", "esign_consent": "Consented to electronic records",
               "signed": "Signed", "declined": "Declined"}


def certificate(request: SignatureRequest, firm_name: str) -> bytes:
    evidence = request.evidence or {}
    blocks = [
        Block("title", "Certificate of Completion"),
        Block("pair", "Document", request.title),
        Block("pair", "Original document SHA-256 (before signing)", request.document_sha256),
        Block("pair", "Signer", f"{request.signer_name} <{request.signer_email}>"),
        Block("pair", "Signed as (typed name)", evidence.get("typed_name") or ""),
        Block("pair", "Signer IP address", evidence.get("ip_address") or ""),
        Block("pair", "Signer user agent", evidence.get("user_agent") or ""),
        Block("pair", "Authentication", (evidence.get("authentication") or {}).get("method", "email_link")),
        Block("pair", "Completed at (UTC)", evidence.get("completed_at") or ""),
        Block("pair", "Signature request", f"{request.id} (provider {request.provider}: "
                                           f"{request.provider_request_id})"),
        Block("heading", "Events"),
    ]
    for event in evidence.get("events") or []:
        where = ", ".join(x for x in (event.get("ip_address"), event.get("user_agent")) if x)
        blocks.append(Block("text", f"{event.get('at')}  {EVENT_NAMES.get(event.get('event'), event.get('event'))}"
                                    + (f"  ({where})" if where else "")))
    blocks.append(Block("text", f"This document is sealed by {firm_name}: a PDF reader shows whether it was changed "
                                "after signing."))
    return render(blocks, "Certificate of Completion", firm_name)


def with_certificate(original: bytes, certificate_pdf: bytes) -> bytes:
    writer = PdfWriter()
    for source in (original, certificate_pdf):
        writer.append(PdfReader(io.BytesIO(source)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
