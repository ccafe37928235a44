"""What the inbound webhooks (spec §13.1) take and answer. Their bodies are read by api/v1/webhook.py from the raw
bytes, after the signature over those bytes has verified, so these schemas only document them."""

from __future__ import annotations

from pydantic import Field

from api.openapi import ReadModel
from domain.webhook_body import MAX_UNIX_TIME


def signed_json_body(schema: dict, description: str) -> dict:
    return {"required": True, "description": description, "content": {"application/json": {"schema": schema}}}


def signature_header(name: str, description: str) -> dict:
    return {"name": name, "in": "header", "required": True, "description": description,
            "schema": {"type": "string", "pattern": r"^t=[0-9]{1,10},v1=[0-9a-f]{64}(,v1=[0-9a-f]{64})*$"}}


STRIPE_EVENT = signed_json_body({
    "type": "object", "required": ["id", "object", "type", "data"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 255, "examples": ["evt_1NG8Du2eZvKYlo2CUI79vXWy"]},
        "object": {"const": "event"},
        "type": {"type": "string", "minLength": 1, "maxLength": 100, "examples": ["payment_intent.succeeded"]},
        # No type or range: a signed event is recorded whatever its `created` says (docs/invoice.md), which
        # is stored only when it is Unix seconds from 1970 to 9999 (domain/webhook_body.py `unix_time`).
        "created": {"description": f"Unix seconds; stored when an integer from 0 to {MAX_UNIX_TIME}, else stored "
                                   "as null (the event is recorded all the same)",
                    "examples": [1700000000]},
        "data": {"type": "object", "required": ["object"], "properties": {"object": {"type": "object"}}},
    },
}, "A Stripe event, exactly as Stripe signed it")

HMAC_EVENT = signed_json_body({
    "type": "object", "required": ["id", "type", "created", "data"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 100},
        "type": {"type": "string", "maxLength": 60, "examples": ["extraction.ready", "document.uploaded"]},
        "created": {"type": "integer", "minimum": 0, "maximum": MAX_UNIX_TIME,
                    "description": "Unix seconds"},
        "data": {"type": "object"},
    },
}, "The provider's event, exactly as it signed it")

PERSONA_EVENT = signed_json_body({
    "type": "object", "required": ["data"],
    "properties": {
        "data": {"type": "object", "required": ["id", "attributes"], "properties": {
            "type": {"const": "event"},
            "id": {"type": "string", "minLength": 1, "maxLength": 100, "examples": ["evt_ZFtDQ6fT8vcUzcaGUEdXbyzL"]},
            "attributes": {"type": "object", "required": ["name", "created-at"], "properties": {
                "name": {"type": "string", "maxLength": 60, "examples": ["inquiry.completed"]},
                "created-at": {"type": "string", "format": "date-time"},
                "payload": {"type": "object", "description": "`data`: the inquiry (its `id`, and "
                                                             "`attributes.confidence-score` from 0 to 1)"},
            }},
        }},
    },
}, "Persona's event, exactly as it signed it")

STRIPE_SIGNATURE = signature_header(
    "Stripe-Signature", "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" under the endpoint secret>`, "
                        "within 5 minutes")


def hmac_signature(name: str) -> dict:
    return signature_header(name, "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" under the webhook "
                                  "secret>`, within 5 minutes")


# Persona-Signature: one `t=…,v1=…` pair, or two separated by a space while a secret is rotated.
_PERSONA_PAIR = "t=[0-9]{1,10},v1=[0-9a-f]{64}"
PERSONA_SIGNATURE = {
    "name": "Persona-Signature", "in": "header", "required": True,
    "description": "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" under the webhook secret>`, within 5 "
                   "minutes; during a rotation two such pairs separated by a space, either of which may match",
    "schema": {"type": "string", "maxLength": 1000, "pattern": f"^{_PERSONA_PAIR}( {_PERSONA_PAIR})*$"}}


class StripeReceipt(ReadModel):
    event_id: str
    duplicate: bool = Field(description="true: this event was received before and changed nothing now")
    outcome: str = Field(examples=["recorded", "ignored"])


class WebhookReceipt(ReadModel):
    """Every authenticated event is answered 200 with its outcome, so the sender stops retrying what can never
    apply."""

    received: bool
    outcome: str = Field(examples=["applied", "duplicate", "rejected", "stale"])
    reason: str | None
