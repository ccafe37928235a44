"""Stripe, through the official SDK: payment links (Checkout Sessions) and webhook verification.

The SDK's API base comes from settings (STRIPE_API_BASE): unset means api.stripe.com; in development and in
the tests it is the payments sandbox (sandboxes/payments.py), which speaks the same HTTP API, so this module
has no development branch. The SDK does not retry here (max_network_retries=0): the Temporal activity that
calls it retries, with the same idempotency key, so a retried send never creates a second session. Failures
leave as `ProviderUnavailable` or `ProviderRejected` (integrations/provider_errors.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import stripe

from domain.errors import FieldError, ValidationFailed
from domain.webhook_body import parse_json
from integrations.provider_errors import provider_errors

KIND = "payment"


class InvalidWebhook(Exception):
    """The request is not signed with one of our secrets within the tolerance (or its body is not UTF-8, so
    the signature cannot be checked)."""


@dataclass(frozen=True)
class CheckoutLineItem:
    name: str
    unit_amount_cents: int
    quantity: int


@dataclass(frozen=True)
class CheckoutLink:
    session_id: str
    url: str


class StripePayments:
    def __init__(self, api_key: str, api_base: str | None, webhook_secrets: list[str],
                 webhook_tolerance_s: int = 300, timeout_s: float = 20.0):
        base_addresses = {"api": api_base.rstrip("/")} if api_base else {}
        self.client = stripe.StripeClient(api_key, base_addresses=base_addresses, max_network_retries=0,
                                          http_client=stripe.HTTPXClient(timeout=timeout_s))
        self.webhook_secrets = [s for s in webhook_secrets if s]
        self.webhook_tolerance_s = webhook_tolerance_s

    @classmethod
    def from_settings(cls, settings) -> "StripePayments":
        return cls(settings.stripe_api_key, settings.stripe_api_base,
                   [settings.stripe_webhook_secret, settings.stripe_webhook_previous_secret or ""],
                   settings.stripe_webhook_tolerance_s)

    async def create_checkout(self, *, invoice_id: str, invoice_number: str, items: list[CheckoutLineItem],
                              currency: str, customer_email: str | None, success_url: str, cancel_url: str,
                              idempotency_key: str) -> CheckoutLink:
        """A hosted payment page for the invoice. `metadata.invoice_id` is set on the session and on the
        PaymentIntent it creates, so every webhook about this payment names the invoice."""
        metadata = {"invoice_id": invoice_id, "invoice_number": invoice_number}
        params: dict = {
            "mode": "payment",
            "line_items": [{"quantity": item.quantity, "price_data": {
                "currency": currency, "unit_amount": item.unit_amount_cents, "product_data": {"name": item.name}}}
                for item in items],
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata, "description": f"Invoice {invoice_number}"},
            "client_reference_id": invoice_id,
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        if customer_email:
            params["customer_email"] = customer_email
        with provider_errors(KIND):
            session = await self.client.v1.checkout.sessions.create_async(
                params, options={"idempotency_key": idempotency_key})
        return CheckoutLink(session_id=session.id, url=session.url)

    async def expire_checkout(self, session_id: str, idempotency_key: str) -> None:
        """Close the payment page (a voided invoice). An already completed or expired session stays as is."""
        with provider_errors(KIND):
            session = await self.client.v1.checkout.sessions.retrieve_async(session_id)
            if session.status != "open":
                return
            await self.client.v1.checkout.sessions.expire_async(session_id,
                                                                options={"idempotency_key": idempotency_key})

    def verify_webhook(self, payload: bytes, signature_header: str | None) -> dict:
        """Check the signature over the raw bytes before anything is parsed, then parse: InvalidWebhook when the
        signature does not verify, ValidationFailed (domain/webhook_body.py) when the signed body is not a Stripe
        event we can read and store.

        Each configured secret is tried (the current one, and the previous one while a rotation is under way);
        Stripe itself sends one `v1` per active secret in one header, and any match passes.
        """
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidWebhook("the body is not UTF-8") from None
        for secret in self.webhook_secrets:
            try:
                stripe.WebhookSignature.verify_header(text, signature_header, secret, self.webhook_tolerance_s)
            except stripe.SignatureVerificationError:
                continue
            break
        else:
            raise InvalidWebhook("no valid signature within the tolerance")
        event = parse_json(payload)
        # Stripe's ids and types are short (evt_ and 24 characters); the bounds are the columns that key and
        # describe the event in stripe_events.
        if not (isinstance(event, dict) and event.get("object") == "event" and isinstance(event.get("id"), str)
                and 0 < len(event["id"]) <= 255 and isinstance(event.get("type"), str)
                and 0 < len(event["type"]) <= 100 and isinstance(event.get("data"), dict)
                and isinstance(event["data"].get("object"), dict)):
            raise ValidationFailed("The signed body is not a Stripe event", [FieldError(
                "body", "invalid_format", "expected {object: event, id, type, data: {object}}, with an id of at "
                                          "most 255 characters and a type of at most 100")])
        return event
