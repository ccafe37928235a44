"""Per-request facts (request id, correlation id, client IP) in context variables, set by the middleware and
read by the envelope, the problem renderer and the audit log without being threaded through every call."""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from datetime import datetime, timezone

from domain.context import RequestOrigin
from observability.context import current_trace_id

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)
client_ip_var: ContextVar[str | None] = ContextVar("client_ip", default=None)

MAX_CORRELATION_ID = 200


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


def clean_correlation_id(raw: str | None) -> str | None:
    """Echo the caller's trace id, but never let it carry control characters into logs or headers."""
    if not raw:
        return None
    cleaned = "".join(ch for ch in raw if 32 < ord(ch) < 127)[:MAX_CORRELATION_ID]
    return cleaned or None


def meta() -> dict:
    return {
        "request_id": request_id_var.get(),
        "correlation_id": correlation_id_var.get(),
        "trace_id": current_trace_id(),  # the request's trace (observability/tracing.py): find it in the logs
        "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
    }


def origin() -> RequestOrigin:
    """The current request's facts, as the audit log records them."""
    return RequestOrigin(correlation_id_var.get(), request_id_var.get(), client_ip_var.get())
