"""What the webhook ledger keeps of a payload (domain/webhook/redaction.py): no secrets, no card data, no
taxpayer identifiers, wherever the provider put them; everything else as it came."""

import copy

import pytest

from domain.webhook.redaction import REDACTED, redact


def test_stripe_secrets_and_card_data_are_removed_and_the_rest_kept():
    event = {"id": "evt_1", "type": "payment_intent.succeeded", "created": 1_700_000_000, "data": {"object": {
        "id": "pi_1", "amount": 99_999_999_999_999, "currency": "usd", "client_secret": "pi_1_secret_abc",
        "metadata": {"invoice_id": "3f1c7e2a-0000-4000-8000-000000000000"}, "last_payment_error": None,
        "payment_method_details": {"card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030,
                                            "fingerprint": "Xt5EWLLDS7FJjR1c", "number": "4242424242424242"}},
        "customer_details": {"email": "pat@example.com", "tax_ids": [{"type": "us_ein", "value": "12-3456789"}]},
    }}}
    original = copy.deepcopy(event)
    kept = redact(event)
    assert event == original  # a copy: the effect still reads what was sent
    obj = kept["data"]["object"]
    assert obj["client_secret"] == REDACTED and obj["customer_details"]["tax_ids"] == REDACTED
    assert obj["payment_method_details"]["card"] == {"brand": "visa", "last4": "4242", "exp_month": REDACTED,
                                                     "exp_year": REDACTED, "fingerprint": REDACTED,
                                                     "number": REDACTED}
    # Amounts in cents can be as long as card numbers: only strings are scanned for those.
    assert (obj["amount"], obj["metadata"], obj["last_payment_error"]) == (
        99_999_999_999_999, {"invoice_id": "3f1c7e2a-0000-4000-8000-000000000000"}, None)
    assert kept["id"] == "evt_1" and kept["created"] == 1_700_000_000


@pytest.mark.parametrize("key", ["ssn", "SSN", "employee_ssn", "spouseSSN", "tin", "recipient_tin", "payerTIN",
                                 "itin", "ein", "tax_id", "taxpayer_id", "social_security_number", "client_secret",
                                 "secret", "webhook-secret", "password", "access_token", "refresh_token", "token",
                                 "api_key", "apiKey", "authorization", "cvc", "cvv", "account_number",
                                 "routing_number", "iban", "card_number"])
def test_sensitive_keys_are_redacted_at_any_depth(key):
    assert redact({"data": [{"x": {key: "value"}}]}) == {"data": [{"x": {key: REDACTED}}]}


@pytest.mark.parametrize("key", ["id", "type", "name", "status", "amount", "setting", "shipping", "destination",
                                 "continent", "last4",
                                 "binder_id", "external_reference", "number_of_pages"])
def test_ordinary_keys_are_kept(key):
    assert redact({"data": {key: "value"}}) == {"data": {key: "value"}}


def test_identifiers_inside_strings_and_labelled_values_are_redacted():
    payload = {"data": {
        "name": "W2 123-45-6789 scan.pdf",
        "note": "card 4242 4242 4242 4242 on file; ref 1234567890123",  # the second fails the Luhn check
        "fields": [{"label": "Employee's social security number", "value": "123456789", "confidence": 0.99},
                   {"label": "Employer identification number (EIN)", "value": "12-3456789", "confidence": 0.99},
                   {"label": "Wages, tips, other compensation", "value": "75000.00", "confidence": 0.97}],
    }}
    data = redact(payload)["data"]
    assert data["name"] == f"W2 {REDACTED} scan.pdf"
    assert data["note"] == f"card {REDACTED} on file; ref 1234567890123"
    assert [f["value"] for f in data["fields"]] == [REDACTED, REDACTED, "75000.00"]
    assert [f["confidence"] for f in data["fields"]] == [0.99, 0.99, 0.97]


def test_an_efile_rejections_identifier_data_value_is_redacted():
    errors = redact({"errors": [{"error_code": "R0000-500-01", "field": "PrimarySSN", "data_value": "123456789"},
                                {"error_code": "IND-031-04", "field": "PriorYearAGIAmt", "data_value": "48000"}]})
    assert [e["data_value"] for e in errors["errors"]] == [REDACTED, "48000"]


def test_null_values_keep_their_place():
    assert redact({"client_secret": None, "ssn": None}) == {"client_secret": None, "ssn": None}
