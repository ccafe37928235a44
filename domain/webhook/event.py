"""The event shape SurePrep and SmartVault sign with an HMAC (integrations/webhook_hmac.py):
`{id, type, created, data}`. Read once the signature has verified."""

from __future__ import annotations

from domain.errors import FieldError, ValidationFailed
from domain.webhook.ledger import Delivery
from domain.webhook_body import is_integer, unix_time


def parse_event(source: str, payload: object) -> Delivery:
    """The delivery of a signed body's JSON value, or ValidationFailed (400) when it is not such an event."""
    if not (isinstance(payload, dict) and isinstance(payload.get("id"), str) and isinstance(payload.get("type"), str)
            and is_integer(payload.get("created")) and isinstance(payload.get("data"), dict)
            and 0 < len(payload["id"]) <= 100 and len(payload["type"]) <= 60):
        raise ValidationFailed("Not a webhook event", [FieldError("body", "invalid_format",
                                                                  "expected {id, type, created, data}")])
    created = unix_time(payload["created"])
    if created is None:
        # Binder events are ordered by this instant, so an event without a real one cannot be placed.
        raise ValidationFailed("The event's created time is out of range",
                               [FieldError("created", "out_of_range", "Unix seconds from 1970 to 9999")])
    return Delivery(source, payload["id"], payload["type"], created, payload, "hmac_sha256")
