"""JSON responses that carry money as exact decimal numbers.

FastAPI's encoder turns Decimal into float; this one writes a Decimal as a JSON number with exactly two places
(`450.00`, whether the caller sent `450`, `450.0` or `"450.00"`), so no amount passes through binary floating point
on its way out and every amount is printed one way. Endpoints that return money
return `MoneyJSONResponse(envelope.one(...))` instead of a dict.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from fastapi.responses import JSONResponse

CENT = Decimal("0.01")


def dumps(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value.quantize(CENT), "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


class MoneyJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")
