"""HMAC-authenticated webhooks: the header `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` (the
scheme Stripe uses; SurePrep and SmartVault, and their sandboxes, send the same). Named for the HMAC, not
"signature": that word belongs to e-signatures (Form 8879). The timestamp bounds replays of a captured
request; the event id (stored once) makes honest redeliveries no-ops."""

from __future__ import annotations

import hashlib
import hmac
import re
import time

TOLERANCE_S = 300
# ASCII digits, at most 10 (Unix seconds up to the year 2286). Anything else is not a signature of ours, and
# int() would raise on it: past 4300 digits, or on digits of other scripts that str.isdigit() accepts ("²").
_TIMESTAMP = re.compile(r"[0-9]{1,10}")


def hmac_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def hmac_valid(secret: str, header: str | None, body: bytes, now: float | None = None,
           tolerance_s: int = TOLERANCE_S) -> bool:
    if not header:
        return False
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    timestamps = [v for k, v in parts if k.strip() == "t"]
    signatures = [v.strip() for k, v in parts if k.strip() == "v1"]
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0].strip()) or not signatures:
        return False
    timestamp = int(timestamps[0])
    if abs((now or time.time()) - timestamp) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, s) for s in signatures)
