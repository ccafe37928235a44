"""Persona (identity verification) over HTTP, and Persona's webhook signature.

`PersonaClient.create_inquiry` creates an inquiry for a verification (Persona's `Idempotency-Key` header: a
retried activity gets the same inquiry) and returns its hosted-flow link. The same code talks to Persona in
production and to sandboxes/persona.py in development and tests (PERSONA_API_URL).

Persona signs webhooks `Persona-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`; while a
secret is rotated the header carries two such pairs separated by a space, and either may match (ESIGN notes).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx

from integrations.provider_errors import provider_errors, raise_for_status

KIND = "identity_provider"
TOLERANCE_S = 300
INQUIRY_LIFETIME = timedelta(hours=24)  # a pending inquiry expires after 24 hours
_PAIR = re.compile(r"^t=([0-9]{1,10}),v1=([0-9a-f]{64})$")


def persona_signature(secret: str, body: bytes, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def persona_signature_valid(secrets: list[str], header: str | None, body: bytes, now: float | None = None,
                            tolerance_s: int = TOLERANCE_S) -> bool:
    """Any `t=…,v1=…` pair of the header made with any of our secrets over this body, within the tolerance."""
    if not header or len(header) > 1000:
        return False
    now = time.time() if now is None else now
    for pair in header.split():
        match = _PAIR.match(pair.strip())
        if match is None:
            continue
        timestamp, signature = int(match.group(1)), match.group(2)
        if abs(now - timestamp) > tolerance_s:
            continue
        for secret in secrets:
            expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
            if hmac.compare_digest(expected, signature):
                return True
    return False


@dataclass(frozen=True)
class Inquiry:
    inquiry_id: str
    url: str
    expires_at: datetime


class PersonaClient:
    def __init__(self, base_url: str, api_key: str, template_id: str, timeout_s: float = 30.0):
        self.base_url, self.api_key, self.template_id = base_url.rstrip("/"), api_key, template_id
        self.timeout_s = timeout_s

    async def create_inquiry(self, reference_id: str, idempotency_key: str) -> Inquiry:
        with provider_errors(KIND):
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                response = await http.post(
                    f"{self.base_url}/api/v1/inquiries",
                    headers={"Authorization": f"Bearer {self.api_key}", "Idempotency-Key": idempotency_key},
                    json={"data": {"attributes": {"inquiry-template-id": self.template_id,
                                                  "reference-id": reference_id}}})
        raise_for_status(KIND, response, "inquiry creation")
        data = response.json()["data"]
        created = datetime.fromisoformat(data["attributes"]["created-at"].replace("Z", "+00:00"))
        return Inquiry(data["id"], f"{self.base_url}/verify?inquiry-id={data['id']}",
                       created.astimezone(timezone.utc) + INQUIRY_LIFETIME)
