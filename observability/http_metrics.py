"""The API's request metrics and request log line: count and latency by route template (`/v1/returns/{return_id}`, never the path with
its ids), method and status; the template also names the request's server span (observability/tracing.py). Pure
ASGI, like the rest of api/middleware.py, so streams pass through untouched."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from observability.request_log import log_request
from observability.tracing import name_server_span

REQUESTS = Counter("taxpractice_http_requests_total", "API requests answered",
                   ["route", "method", "status"])
LATENCY = Histogram("taxpractice_http_request_duration_seconds", "API request latency, to the last byte",
                    ["route", "method"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
# A path no route matched: one label value for all of them, so a scanner cannot grow the series without bound.
UNMATCHED = "unmatched"


def route_template(scope: Scope) -> str:
    """The matched route's full template, which FastAPI writes into the scope it was given. FastAPI ≥ 0.16x keeps
    included routers nested: the route itself then knows only its own part (`/clients/{client_id}`) and the full
    template (`/v1/clients/{client_id}`) is in the effective route context."""
    effective = scope.get("fastapi", {}).get("effective_route_context")
    return (getattr(effective, "path_format", None) or getattr(scope.get("route"), "path", None)
            or UNMATCHED)


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # Routed by now, and the server span still open (it ends with the response's last byte).
                if (template := route_template(scope)) != UNMATCHED:
                    name_server_span(scope["method"], template)
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            template = route_template(scope)
            if status == 500 and template != UNMATCHED:  # an exception no handler answered: no response started
                name_server_span(scope["method"], template)
            elapsed = time.perf_counter() - started
            REQUESTS.labels(template, scope["method"], str(status)).inc()
            LATENCY.labels(template, scope["method"]).observe(elapsed)
            log_request(scope["method"], scope["path"], template, status, elapsed)
