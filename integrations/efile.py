"""An IRS e-file transmitter (an Authorized e-file Provider's transmission service) over HTTP: submit a return
under its Submission ID, ask for the acknowledgement.

The same code talks to the transmitter in production and to sandboxes/efile.py in development and tests
(EFILING_API_URL). The Submission ID is the idempotency key: a submission sent again under the same ID (a
retried activity after an outage that hid the first answer) is answered with the first receipt and never
filed twice. Implements `integrations.providers.EfileTransmitter`; failures leave as `ProviderUnavailable` or
`ProviderRejected`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import httpx

from integrations.provider_errors import provider_errors, raise_for_status

KIND = "efile_transmitter"


@dataclass(frozen=True)
class Submission:
    """What a transmitter needs of one jurisdiction's return (the return data itself is the tax software's XML;
    the sandbox decides its acknowledgement from the taxpayer's last name, like test cards)."""

    submission_id: str
    jurisdiction: str
    return_type: str
    tax_year: int
    taxpayer_name: str
    federal_submission_id: str | None = None


@dataclass(frozen=True)
class TransmitterAck:
    submission_id: str
    status: str  # pending | accepted | rejected
    confirmation_number: str | None = None
    acceptance_date: date | None = None
    errors: tuple[dict, ...] = ()


def ack_from_json(body: dict) -> TransmitterAck:
    accepted_on = body.get("acceptance_date")
    return TransmitterAck(
        submission_id=body["submission_id"], status=body["status"],
        confirmation_number=body.get("confirmation_number"),
        acceptance_date=date.fromisoformat(accepted_on) if accepted_on else None,
        errors=tuple(body.get("errors") or ()))


class EfileClient:
    def __init__(self, base_url: str, api_key: str, timeout_s: float = 30.0):
        self.base_url, self.api_key, self.timeout_s = base_url.rstrip("/"), api_key, timeout_s

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.api_key}"}

    async def submit(self, submission: Submission) -> str:
        """The transmitter's receipt time (ISO) for the submission; the same receipt for the same Submission ID."""
        with provider_errors(KIND):
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                response = await http.post(f"{self.base_url}/v1/submissions", headers=self._headers(), json={
                    "submission_id": submission.submission_id, "jurisdiction": submission.jurisdiction,
                    "return_type": submission.return_type, "tax_year": submission.tax_year,
                    "taxpayer_name": submission.taxpayer_name,
                    "federal_submission_id": submission.federal_submission_id})
        raise_for_status(KIND, response, "submission")
        return response.json()["received_at"]

    async def acknowledgement(self, submission_id: str) -> TransmitterAck:
        with provider_errors(KIND):
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                response = await http.get(f"{self.base_url}/v1/submissions/{submission_id}/acknowledgement",
                                          headers=self._headers())
        raise_for_status(KIND, response, "acknowledgement poll")
        return ack_from_json(response.json())
