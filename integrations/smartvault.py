"""SmartVault over HTTP: download a document a client put in the firm's vault (SMARTVAULT_API_URL; the
sandbox in development and tests). Streams into a file the caller provides, refusing more than `max_bytes`.
Implements `integrations.providers.DocumentVault`; failures leave as `ProviderUnavailable` or `ProviderRejected`.
"""

from __future__ import annotations

from typing import BinaryIO

import httpx

from integrations.provider_errors import provider_errors, raise_for_status

KIND = "document_vault"


class TooLarge(Exception):
    """The file is larger than we accept (our limit, not the provider's refusal)."""


class SmartVaultClient:
    def __init__(self, base_url: str, api_key: str, timeout_s: float = 60.0):
        self.base_url, self.api_key, self.timeout_s = base_url.rstrip("/"), api_key, timeout_s

    async def download(self, document_id: str, sink: BinaryIO, max_bytes: int) -> int:
        size = 0
        with provider_errors(KIND):
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                async with http.stream("GET", f"{self.base_url}/v1/documents/{document_id}/content",
                                       headers={"Authorization": f"Bearer {self.api_key}"}) as response:
                    raise_for_status(KIND, response, "download")
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise TooLarge(f"more than {max_bytes} bytes")
                        sink.write(chunk)
        return size
