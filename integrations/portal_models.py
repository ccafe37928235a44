"""The client-portal protocol's answers as strict models (docs/portal/protocol.md §2, §4): what the connector
holds a portal to. A missing required field, a field of another type, an unknown enum value or a list body
without `items` fails validation, and the connector reports it as drift naming the surface and the field
(integrations/portal.PortalDrift). Fields the protocol does not name are ignored, not drift: a portal may add
fields, and the connector keeps only what it reads (data minimization)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, StringConstraints

Amount = Annotated[str, StringConstraints(pattern=r"^-?\d+(\.\d+)?$")]  # decimal strings, never floats


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


Item = TypeVar("Item", bound=Strict)


class Page(Strict, Generic[Item]):
    items: list[Item]
    next_page: int | None


class Tokens(Strict):
    access_token: str
    refresh_token: str
    expires_in: int


class Account(Strict):
    id: str
    name: str
    type: Literal["individual", "business", "trust", "nonprofit"]
    region: Literal["us", "ca", "eu"]


class Accounts(Strict):
    items: list[Account]
    current_account_id: str


class Document(Strict):
    id: str
    name: str
    path: str
    folder: Literal["client_uploaded", "firm_shared", "organizer_attachments"]
    size: int
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    content_type: str
    uploaded_at: datetime
    updated_at: datetime


class Answer(Strict):
    type: Literal["boolean", "text", "number", "date", "choice", "file"]
    value: bool | str | int | float | list[str] | None


class Question(Strict):
    id: str
    section: str
    text: str
    answer: Answer | None
    attachment_ids: list[str]


class Organizer(Strict):
    id: str
    title: str
    tax_year: int
    status: Literal["sent", "in_progress", "completed"]
    sent_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime
    questions: list[Question]


class Engagement(Strict):
    id: str
    title: str
    status: Literal["pending", "accepted", "declined"]
    accepted_at: datetime | None
    signer_name: str | None
    document_id: str | None
    updated_at: datetime


class AuditEvent(Strict):
    event: str
    at: datetime
    ip: str | None


class Signature(Strict):
    id: str
    document_id: str
    status: str
    signed_at: datetime | None
    standard: Literal["esign_us", "eidas_advanced"]
    audit_trail: list[AuditEvent]
    updated_at: datetime


class PortalLineItem(Strict):
    """An invoice line as the portal sends it (named apart from the LineItem of this firm's own invoices)."""

    description: str
    quantity: Amount
    unit_price: Amount


class PortalPayment(Strict):
    id: str
    amount: Amount
    method: Literal["stripe", "cpacharge", "other"]
    paid_at: datetime
    recurring: bool


class Invoice(Strict):
    id: str
    number: str
    currency: str
    total: Amount
    amount_paid: Amount
    status: Literal["unpaid", "partially_paid", "paid", "void"]
    issued_at: datetime
    due_at: datetime | None
    updated_at: datetime
    line_items: list[PortalLineItem]
    payments: list[PortalPayment]


class Thread(Strict):
    id: str
    subject: str
    updated_at: datetime


class Author(Strict):
    type: Literal["firm", "client"]
    name: str


class Message(Strict):
    id: str
    author: Author
    body: str
    sent_at: datetime
    attachment_ids: list[str]
    updated_at: datetime


class Task(Strict):
    id: str
    title: str
    status: Literal["open", "done"]
    due_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime


# The surfaces a connection may enable (the API's names), and the item model each list answers with.
# `messages` is read thread by thread: its walk lists `threads`, then each thread's messages.
SURFACE_ITEMS: dict[str, type[Strict]] = {
    "documents": Document, "organizers": Organizer, "engagements": Engagement, "signatures": Signature,
    "invoices": Invoice, "messages": Message, "tasks": Task,
}
SURFACES = tuple(SURFACE_ITEMS)
DOCUMENT_FOLDERS = ("client_uploaded", "firm_shared", "organizer_attachments")
