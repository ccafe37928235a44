"""Persona's effect (spec §13.1 "Persona Webhooks"), recorded once (domain/webhook/ledger.py): `inquiry.completed`
(its confidence approves, sends to manual review or rejects the government ID step), `inquiry.failed` and
`inquiry.expired` update the verification whose inquiry it is; other events are acknowledged."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from sqlalchemy.ext.asyncio import AsyncSession

from domain.context import UNBOUND_FIRM, ServiceContext
from domain.errors import FieldError, ValidationFailed
from domain.identity import service as identity
from domain.webhook.ledger import Applied, Delivery

SOURCE = "persona"
HANDLED = ("inquiry.completed", "inquiry.failed", "inquiry.expired")


def parse_event(payload: object) -> Delivery:
    """Persona's envelope: {data: {type: "event", id, attributes: {name, created-at, payload: {data: inquiry}}}}."""
    data = payload.get("data") if isinstance(payload, dict) else None
    attributes = data.get("attributes") if isinstance(data, dict) else None
    if not (isinstance(attributes, dict) and isinstance(data.get("id"), str) and 0 < len(data["id"]) <= 100
            and isinstance(attributes.get("name"), str) and len(attributes["name"]) <= 60):
        raise ValidationFailed("Not a Persona event", [FieldError("body", "invalid_format",
                                                                  "expected {data: {id, attributes: {name, …}}}")])
    try:
        occurred = datetime.fromisoformat(str(attributes.get("created-at")).replace("Z", "+00:00"))
        # In UTC (no offset: UTC), an instant Postgres can store: 0001-01-01T00:00+01:00 is in the year 0.
        occurred = (occurred.replace(tzinfo=timezone.utc) if occurred.tzinfo is None
                    else occurred.astimezone(timezone.utc))
    except (ValueError, OverflowError):
        raise ValidationFailed("The event's created-at is not a date-time",
                               [FieldError("created-at", "invalid_format", "ISO 8601")]) from None
    return Delivery(SOURCE, data["id"], attributes["name"], occurred, payload, "hmac_sha256")


async def apply(session: AsyncSession, event: Delivery) -> Applied[uuid.UUID]:
    """The follow-up is the verification's id when it reached a final status (its workflow ends)."""
    if event.event_type not in HANDLED:
        return Applied("ignored", f"event type {event.event_type} is not handled")
    # Signed, but any JSON: each level is checked before it is read (a signed body of another shape is refused
    # with its reason, never a 500).
    payload = event.payload["data"]["attributes"].get("payload")
    inquiry = payload.get("data") if isinstance(payload, dict) else None
    inquiry_id = inquiry.get("id") if isinstance(inquiry, dict) else None
    if not isinstance(inquiry_id, str) or not inquiry_id:
        return Applied("rejected", "the event carries no inquiry")
    confidence = None
    inquiry_attributes = inquiry.get("attributes")
    raw = inquiry_attributes.get("confidence-score") if isinstance(inquiry_attributes, dict) else None
    if raw is not None:
        try:
            confidence = Decimal(str(raw))
        except InvalidOperation:
            return Applied("rejected", "confidence-score is not a number")
        if not (confidence.is_finite() and Decimal(0) <= confidence <= Decimal(1)):  # NaN cannot be compared
            return Applied("rejected", "confidence-score is outside 0..1")
    ctx = ServiceContext.for_system(session, UNBOUND_FIRM, SOURCE)
    verification = await identity.record_inquiry_outcome(ctx, inquiry_id, event.event_type, confidence)
    if verification is None:
        return Applied("ignored_unknown_inquiry", f"no verification has inquiry {inquiry_id}")
    final = verification.status in ("completed", "failed")
    return Applied("applied", firm_id=verification.firm_id, entity_type="identity_verification",
                   entity_id=verification.id, follow_up=verification.id if final else None)
