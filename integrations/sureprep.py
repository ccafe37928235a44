"""SurePrep (1040SCAN/SPbinder) over HTTP: create a client-year binder, upload a document into it.

The same code talks to SurePrep in production and to sandboxes/sureprep.py in development and tests
(SUREPREP_API_URL). Every write carries an Idempotency-Key, so a retried activity never creates a second
binder or uploads a document twice. Implements `integrations.providers.DocumentProcessing`; failures leave as
`ProviderUnavailable` or `ProviderRejected`.
"""

from __future__ import annotations

from typing import BinaryIO

import httpx

from integrations.provider_errors import provider_errors, raise_for_status

KIND = "document_processing"


class SurePrepClient:
    def __init__(self, base_url: str, api_key: str, timeout_s: float = 60.0):
        self.base_url, self.api_key, self.timeout_s = base_url.rstrip("/"), api_key, timeout_s

    def _headers(self, idempotency_key: str) -> dict:
        return {"Authorization": f"Bearer {self.api_key}", "Idempotency-Key": idempotency_key}

    async def create_binder(self, client_reference: str, tax_year: int, idempotency_key: str) -> str:
        with provider_errors(KIND):
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                response = await http.post(f"{self.base_url}/v1/binders", headers=self._headers(idempotency_key),
                                           json={"client_reference": client_reference, "tax_year": tax_year})
        raise_for_status(KIND, response, "binder creation")
        return response.json()["binder_id"]

    async def upload_document(self, binder_id: str, external_reference: str, filename: str, stream: BinaryIO,
                              mime_type: str, document_type: str | None) -> str:
        with provider_errors(KIND):
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                response = await http.post(
                    f"{self.base_url}/v1/binders/{binder_id}/documents",
                    headers=self._headers(f"document:{external_reference}"),
                    data={"external_reference": external_reference, "document_type": document_type or ""},
                    files={"file": (filename, stream, mime_type)})
        raise_for_status(KIND, response, "document upload")
        return response.json()["document_id"]
