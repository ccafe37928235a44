"""The JSON of an inbound webhook (SurePrep, SmartVault, Stripe), read once its signature has been checked.

Webhook bodies are parsed here rather than by FastAPI because the signature covers the raw bytes. A body is
refused with a 400, before anything is recorded, when Postgres could not store it (NUL characters and unpaired
UTF-16 surrogates have no place in text or JSONB, nor have NaN and Infinity) or Python could not read it
(nesting past the interpreter's recursion limit, integers past its 4300-digit conversion limit). No sender's
real events come near these limits, so whoever signed such a body gets an answer that says why, not a 500.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta, timezone

from domain.errors import FieldError, ValidationFailed

# Real events nest about ten levels deep (a Stripe charge's payment_method_details.card.checks).
MAX_DEPTH = 64
# The longest number any event we read carries is a Unix time or an amount in cents; 100 characters is far
# above either and far below Python's limit.
MAX_NUMBER_CHARS = 100
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# 9999-12-31T23:59:59Z, the last second a Python datetime can hold.
MAX_UNIX_TIME = 253402300799


def _refused(code: str, message: str) -> ValidationFailed:
    return ValidationFailed("The webhook body cannot be read", [FieldError("body", code, message)])


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _refused("out_of_range", f"numbers have at most {MAX_NUMBER_CHARS} characters")
    return int(text)


def _float(text: str) -> float:
    value = float(text) if len(text) <= MAX_NUMBER_CHARS else math.inf
    if not math.isfinite(value):  # 1e400 reads as inf, which JSONB refuses
        raise _refused("out_of_range", f"numbers have at most {MAX_NUMBER_CHARS} characters and are finite")
    return value


def _constant(text: str) -> float:
    raise _refused("malformed_json", f"{text} is not JSON")  # Python's json reads NaN and Infinity; JSON has neither


def parse_json(body: bytes) -> object:
    """The body's JSON value, or ValidationFailed (400) naming what is wrong with it."""
    try:
        value = json.loads(body.decode("utf-8"), parse_int=_int, parse_float=_float, parse_constant=_constant)
    except UnicodeDecodeError:
        raise _refused("malformed_json", "not UTF-8") from None
    except json.JSONDecodeError:
        raise _refused("malformed_json", "not JSON") from None
    except RecursionError:  # the C parser recurses per level: thousands of `[` exhaust the stack first
        raise _refused("too_deep", f"nested more than {MAX_DEPTH} levels deep") from None
    _check(value)
    return value


def _check(value: object) -> None:
    """Every string (keys too) storable, and no deeper than MAX_DEPTH; walked without recursion."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                raise _refused("invalid_format", "NUL characters and unpaired UTF-16 surrogates are not accepted")
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            raise _refused("too_deep", f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(item, dict):
            pending.extend((key, depth) for key in item)
            pending.extend((child, depth + 1) for child in item.values())
        else:
            pending.extend((child, depth + 1) for child in item)


def is_integer(value: object) -> bool:
    """An integer as JSON Schema counts one (the webhooks document `created` as `type: integer`): `1700000000.0`
    is one, as it is for every integer field pydantic reads; `true` is not."""
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())


def unix_time(value: object) -> datetime | None:
    """An event's Unix time in seconds as a UTC datetime; None unless it is an integer (is_integer) from 1970 to
    9999."""
    if not is_integer(value) or not 0 <= value <= MAX_UNIX_TIME:
        return None
    value = int(value)
    return _EPOCH + timedelta(seconds=value)
