"""The domain events a firm may subscribe a webhook endpoint to, and what each carries.

An event is **thin**: ids, statuses and a link back into the API, never return information (amounts, SSNs,
names, document contents). A receiver fetches details through the API with its own credentials, so a thin event
is not a §7216 disclosure. Each type lists the only keys its `data` may hold; `record_event` refuses others, so a
careless caller cannot leak a field into every subscribed endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    name: str
    entity_type: str
    fields: tuple[str, ...]  # the keys `data` may carry besides the entity's id and the client's id
    description: str


CATALOGUE: dict[str, EventType] = {t.name: t for t in (
    EventType("return.status_changed", "tax_return", ("action", "from_status", "to_status"),
              "A tax return moved from one status to another."),
    EventType("document.uploaded", "document", ("status",), "A document was uploaded for a client."),
    EventType("document.processed", "document", ("status",),
              "A document's processing finished: processed, or review_required when a person must look."),
    EventType("invoice.sent", "invoice", ("status",), "An invoice was sent with its payment link."),
    EventType("invoice.paid", "invoice", ("status",), "An invoice was paid in full."),
    EventType("engagement.signed", "engagement", ("status",), "An engagement letter was signed."),
    EventType("consent.signed", "consent", ("status",), "A Form 7216 consent was signed."),
    EventType("consent.revoked", "consent", ("status",), "A Form 7216 consent was revoked."),
    EventType("efile.accepted", "efile_transmission", ("status",), "The IRS or a state accepted a submission."),
    EventType("efile.rejected", "efile_transmission", ("status",), "The IRS or a state rejected a submission."),
    EventType("identity.verified", "identity_verification", ("status",), "A client's identity was verified."),
    EventType("portal.sync_finished", "portal_sync", ("status",), "A client portal synchronisation finished."),
)}

# Sent only by POST /v1/admin/webhooks/{id}/test, to the one endpoint; nobody subscribes to it.
TEST_EVENT = "webhook.test"

# Where a receiver reads the entity an event is about (spec paths); None: no API path yet.
ENTITY_PATHS: dict[str, str] = {
    "tax_return": "/v1/returns/{id}",
    "document": "/v1/documents/{id}",
    "invoice": "/v1/invoices/{id}",
    "consent": "/v1/consents/{id}",
    "engagement": "/v1/engagements/{id}",
    "identity_verification": "/v1/identity/{id}",
    "client": "/v1/clients/{id}",
}


def entity_link(entity_type: str, entity_id: object) -> str | None:
    path = ENTITY_PATHS.get(entity_type)
    return path.format(id=entity_id) if path else None
