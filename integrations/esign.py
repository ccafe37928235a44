"""The e-signature provider over HTTP (the `google` webhook source; docs/esign.md): create a signature request
for one PDF and one signer, remind the signer, cancel it.

Google Workspace eSignature publishes no API, so the contract is ours and close to Dropbox Sign's: a multipart
POST with the file and a JSON `request` part, an Idempotency-Key on every write, a hosted signing page whose link
the provider mails to the signer, and HMAC-signed callbacks. The same code talks to sandboxes/esign.py in
development and tests (GOOGLE_API_URL). Implements `integrations.providers.ESignature`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

import httpx

from integrations.provider_errors import provider_errors, raise_for_status

KIND = "esignature"


@dataclass(frozen=True)
class SignerRequest:
    title: str  # the document's name as the signer sees it
    filename: str
    signer_name: str
    signer_email: str
    message: str  # the mail's text above the link
    # Our reference, echoed in every callback: {"signature_request_id": …, "subject_type": …}.
    metadata: dict
    expires_at: datetime | None = None  # the provider closes the link then (our workflow expires it too)


@dataclass(frozen=True)
class SentRequest:
    request_id: str
    status: str
    document_sha256: str  # the provider's hash of what it received: it must be the one we sent


class ESignClient:
    def __init__(self, base_url: str, api_key: str, timeout_s: float = 30.0):
        self.base_url, self.api_key, self.timeout_s = base_url.rstrip("/"), api_key, timeout_s

    def _headers(self, idempotency_key: str) -> dict:
        return {"Authorization": f"Bearer {self.api_key}", "Idempotency-Key": idempotency_key}

    async def create_request(self, request: SignerRequest, document: bytes, idempotency_key: str) -> SentRequest:
        body = asdict(request)
        body["expires_at"] = request.expires_at.isoformat() if request.expires_at else None
        with provider_errors(KIND):
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                response = await http.post(
                    f"{self.base_url}/v1/signature_requests", headers=self._headers(idempotency_key),
                    data={"request": json.dumps(body)},
                    files={"file": (request.filename, document, "application/pdf")})
        raise_for_status(KIND, response, "signature request")
        answer = response.json()
        return SentRequest(answer["id"], answer["status"], answer["document_sha256"])

    async def _post(self, request_id: str, action: str, idempotency_key: str) -> None:
        with provider_errors(KIND):
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                response = await http.post(f"{self.base_url}/v1/signature_requests/{request_id}/{action}",
                                           headers=self._headers(idempotency_key))
        raise_for_status(KIND, response, f"signature request {action}")

    async def remind(self, request_id: str, idempotency_key: str) -> None:
        await self._post(request_id, "remind", idempotency_key)

    async def cancel(self, request_id: str, idempotency_key: str) -> None:
        await self._post(request_id, "cancel", idempotency_key)
