"""One shape for every outside service: a small interface per kind, and the two errors a provider raises.

Each kind below is a `typing.Protocol` naming only what the activities call. Behind each sits one production
client, which reaches the real service or its sandbox (sandboxes/) over the same HTTP/SMTP/S3 API: the
sandbox is just another base URL in `settings.py`, so no client has a development branch. `worker.py`
builds every provider once from `Settings` (`build_providers`) and hands them to the activity classes'
constructors; activities never see `Settings`.

A provider call ends in one of three ways: its answer, `ProviderUnavailable` (the network, a timeout, a 5xx
or a rate limit: try again later, which Temporal does by retrying the activity), or `ProviderRejected` (the
provider refused on business grounds: retrying cannot help, so the activity ends non-retryable; see
activities/collect.py). `integrations/provider_errors.py` is the one place that maps each client library's
exceptions onto these two. How a new kind is added: docs/providers.md.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, BinaryIO, Protocol

if TYPE_CHECKING:
    from integrations.efile import Submission, TransmitterAck
    from integrations.persona import Inquiry
    from domain.tax_return.analysis import AnalysisInput, AnalysisResult
    from integrations.notify import Notification, Recipient
    from integrations.esign import SentRequest, SignerRequest
    from integrations.payments import CheckoutLineItem, CheckoutLink
    from integrations.portal import PortalClient, SessionState


class ProviderError(Exception):
    """A provider call that did not succeed. `kind` is the provider's kind ("payment", "document_processing" …),
    which names the non-retryable error type an activity reports for a rejection ("PaymentProviderRejected")."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind, self.message = kind, message


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or failed on its side (network, timeout, 5xx, 429): retried."""


class ProviderRejected(ProviderError):
    """The provider refused the request on business grounds (a 4xx other than 408/429, a declined card, an
    invalid parameter): the same request would be refused again, so it is not retried (activities/collect.py
    reports it as a 502 problem naming the kind)."""


# ---- the kinds --------------------------------------------------------------------------------------------------

class Payments(Protocol):
    """Hosted payment pages (Stripe Checkout; sandboxes/payments.py)."""

    async def create_checkout(self, *, invoice_id: str, invoice_number: str, items: list[CheckoutLineItem],
                              currency: str, customer_email: str | None, success_url: str, cancel_url: str,
                              idempotency_key: str) -> CheckoutLink: ...

    async def expire_checkout(self, session_id: str, idempotency_key: str) -> None: ...


class DocumentProcessing(Protocol):
    """Binders of a client's tax year that a document is uploaded into (SurePrep; sandboxes/sureprep.py)."""

    async def create_binder(self, client_reference: str, tax_year: int, idempotency_key: str) -> str: ...

    async def upload_document(self, binder_id: str, external_reference: str, filename: str, stream: BinaryIO,
                              mime_type: str, document_type: str | None) -> str: ...


class DocumentVault(Protocol):
    """A firm's client document vault that documents are imported from (SmartVault; sandboxes/smartvault.py)."""

    async def download(self, document_id: str, sink: BinaryIO, max_bytes: int) -> int: ...


class ClientPortal(Protocol):
    """Client portals a firm connects (TaxDome-style; sandboxes/portal/). Unlike the other kinds each connection
    names its own portal and login, so the provider opens a client per connection; the client's calls
    (integrations/portal.PortalClient) are the protocol's reads."""

    def open(self, *, base_url: str, email: str, password: str, totp_secret: str | None, device_id: str,
             state: SessionState, on_state=None, before_request=None) -> PortalClient: ...


class ObjectStorage(Protocol):
    """Bytes under server-generated keys, encrypted at rest (S3; SeaweedFS in development). Blocking calls:
    activities run them with asyncio.to_thread."""

    def upload_stream(self, key: str, stream: BinaryIO, content_type: str) -> None: ...

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...

    def get_bytes(self, key: str) -> bytes: ...

    def download_to(self, key: str, sink: BinaryIO) -> None: ...

    def delete(self, key: str) -> None: ...

    def last_key(self, prefix: str) -> str | None: ...


class Notifications(Protocol):
    """Telling a person something by mail and/or SMS (SMTP, and an email-to-SMS gateway; the mail capture).
    Activities mail only through this; `integrations/mail.Mailer` is the SMTP transport underneath."""

    async def send(self, recipient: Recipient, notification: Notification,
                   channels: tuple[str, ...] = ("email",)) -> list[str]: ...


class Analyzer(Protocol):
    """Return analysis (AWS Bedrock, or the deterministic offline analyzer of domain/tax_return/analysis.py).
    Blocking: activities run it with asyncio.to_thread."""

    name: str

    def analyze(self, analysis_id: uuid.UUID, data: AnalysisInput) -> AnalysisResult: ...


class EfileTransmitter(Protocol):
    """An IRS e-file transmitter (MeF through an Authorized e-file Provider; sandboxes/efile.py). The Submission
    ID is the idempotency key of `submit`."""

    async def submit(self, submission: Submission) -> str: ...

    async def acknowledgement(self, submission_id: str) -> TransmitterAck: ...


class IdentityProvider(Protocol):
    """Government ID verification through a hosted inquiry (Persona; sandboxes/persona.py)."""

    async def create_inquiry(self, reference_id: str, idempotency_key: str) -> Inquiry: ...


class SmsGateway(Protocol):
    """Text messages and voice calls that read a text (a Twilio-style gateway; sandboxes/sms_gateway.py)."""

    async def send(self, to: str, body: str, channel: str, idempotency_key: str) -> str: ...


class ESignature(Protocol):
    """Collecting a person's signature on a PDF: the provider mails the signer a link to its hosted signing page
    (ESIGN consumer consent first, then a typed name and Sign or Decline), keeps the evidence, and calls back
    `signature.completed` / `signature.declined` (POST /v1/webhooks/google). sandboxes/esign.py in development."""

    async def create_request(self, request: SignerRequest, document: bytes, idempotency_key: str) -> SentRequest: ...

    async def remind(self, request_id: str, idempotency_key: str) -> None: ...

    async def cancel(self, request_id: str, idempotency_key: str) -> None: ...
