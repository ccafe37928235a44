"""What the ledger keeps of a webhook's payload: everything but secrets and taxpayer identifiers.

The ledger is read by people reconciling events by hand, long after the event; it must not become a second copy
of what we are bound to protect. Removed, wherever they appear in the payload:
- values under keys that name a taxpayer identifier (`ssn`, `tin`, `itin`, `ein`, `tax_id`, `employee_ssn`,
  `recipientTin` …), a secret or credential (`client_secret`, `secret`, `password`, `token`, `api_key`,
  `authorization` …), or card and bank data (`cvc`, `number` and `fingerprint` of a card, `account_number`,
  `routing_number`, `iban`). Stripe sends a PaymentIntent's and a Checkout Session's `client_secret`, which
  completes a payment; SurePrep's extraction fields carry a W-2's SSN and EIN.
- the `value` of a labelled item whose label names one (SurePrep's {"label": "Employee SSN", "value": …}), and the
  `data_value` of an e-file rejection whose `field` names one ({"field": "PrimarySSN", "data_value": …}).
- inside any string: an SSN written as 123-45-6789, and a card number (13 to 19 digits, spaced or not, passing
  the Luhn check), as in a file name "W2 123-45-6789.pdf".
The event keeps its shape (keys stay, values become REDACTED) so a reader sees what was there.
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"

_IDENTIFIERS = {"ssn", "ssns", "tin", "tins", "itin", "ein", "taxid", "taxids", "taxpayerid", "socialsecurity",
                "socialsecuritynumber", "taxidentificationnumber", "taxpayeridentificationnumber"}
_SECRETS = {"secret", "password", "passwd", "passphrase", "token", "apikey", "authorization", "credential",
            "credentials", "privatekey", "cvc", "cvv", "cvc2", "cvv2", "pin"}
_BANK = {"accountnumber", "routingnumber", "iban", "cardnumber", "pan"}
# Keys harmless alone that are card data inside a card: Stripe's card object (payment_method_details.card).
_CARD_PARENTS = {"card", "cardpresent", "cardcredentials"}
_CARD_KEYS = {"number", "fingerprint", "expmonth", "expyear"}

_SSN = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")
_CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")


def _words(key: str) -> list[str]:
    """`employee_ssn` → [employee, ssn]; `recipientTIN` → [recipient, tin]; `client-secret` → [client, secret]."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def _sensitive(key: str, parent: str | None) -> bool:
    words = _words(key)
    joined = "".join(words)
    if joined in _IDENTIFIERS or joined in _BANK or joined in _SECRETS:
        return True
    if any(w in _IDENTIFIERS or w in _SECRETS for w in words):
        return True
    # client_secret, access_token, api_key, id_token: a word ending a key is what the value is
    if any(joined.endswith(s) for s in ("secret", "token", "apikey", "password", "accountnumber", "routingnumber")):
        return True
    return parent in _CARD_PARENTS and joined in _CARD_KEYS


def _names_identifier(label: object) -> bool:
    """A label such as "Employee's social security number", "SSN" or "Payer TIN"."""
    if not isinstance(label, str):
        return False
    words = _words(label)
    return any(w in _IDENTIFIERS for w in words) or "socialsecurity" in "".join(words)


def _luhn(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _scrub(text: str) -> str:
    text = _SSN.sub(REDACTED, text)
    return _CARD.sub(lambda m: REDACTED if _luhn(re.sub(r"[ -]", "", m.group())) else m.group(), text)


def redact(payload: object) -> object:
    """A copy of the payload without secrets or taxpayer identifiers; the payload itself is left as it was."""
    return _redact(payload, None)


def _redact(value: object, parent: str | None) -> object:
    # Depth is bounded (domain/webhook_body.py refuses bodies nested past 64 levels) so recursion is safe.
    if isinstance(value, dict):
        normalized = "".join(_words(parent)) if parent is not None else None
        kept = {key: REDACTED if value[key] is not None and _sensitive(key, normalized) else _redact(value[key], key)
                for key in value}
        if kept.get("value") is not None and _names_identifier(value.get("label") or value.get("name")):
            kept["value"] = REDACTED
        # An e-file rejection's data value of an identifier field ({"field": "PrimarySSN", "data_value": …}).
        if kept.get("data_value") is not None and _names_identifier(value.get("field")):
            kept["data_value"] = REDACTED
        return kept
    if isinstance(value, list):
        return [_redact(item, parent) for item in value]
    if isinstance(value, str):
        return _scrub(value)
    return value
