"""OpenTelemetry traces: one trace from the HTTP request through the Temporal client, the workflow and its
activities (temporalio.contrib.opentelemetry, wired in orchestration/connect.py) to SQL, httpx, S3 and mail.

A tracer provider is always installed, so every log line and problem+json `meta` carries a trace id that a
search in the logs follows from the API to the worker; spans leave the process only when
OTEL_EXPORTER_OTLP_ENDPOINT is set. Spans are recorded only while a processor listens (an exporter, or a test's):
without one, the SDK still gives each span its trace and span ids (what the logs carry) but keeps no attributes,
events or timings that nobody would read (~18 spans per Stripe webhook, one or two per portal document: measured
in docs/performance.md and docs/portal/README.md). Export runs on a background thread with a short timeout: a
collector that is down or misnamed costs a warning in the log, never a failed or slowed request.
"""

from __future__ import annotations

import logging

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

log = logging.getLogger(__name__)
OTLP_TIMEOUT_S = 5
_installed: dict[str, bool] = {}


def configure_tracing(service_name: str, otlp_endpoint: str | None, version: str = "") -> None:
    """Once per process: the tracer provider, its exporter when configured, and the httpx and botocore
    instrumentations (every client: Stripe's SDK, the SurePrep/SmartVault clients, S3). Mail has its own span
    (integrations/mail.py)."""
    if _installed.get("provider"):
        return
    provider = ListenedTracerProvider(resource=Resource.create({"service.name": service_name,
                                                                 "service.version": version}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # The exporter's own base: OTEL_EXPORTER_OTLP_ENDPOINT names the collector, traces go to /v1/traces.
        endpoint = otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=OTLP_TIMEOUT_S)))
        log.info("traces exported over OTLP to %s", endpoint)
    trace.set_tracer_provider(provider)
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument()
    BotocoreInstrumentor().instrument()  # the S3 store (boto3): bucket and operation, never an object's content
    _installed["provider"] = True


class _RecordWhenListened(Sampler):
    """Records every span once a span processor is attached, none before: the decision is per span, so a processor
    attached at run time (tests/operations/telemetry.py) sees the spans from then on."""

    def __init__(self) -> None:
        self.listened = False

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None,
                      trace_state=None) -> SamplingResult:
        return SamplingResult(Decision.RECORD_AND_SAMPLE if self.listened else Decision.DROP, attributes)

    def get_description(self) -> str:
        return "RecordWhenListened"


class ListenedTracerProvider(TracerProvider):
    """The process's tracer provider: records spans from the first span processor attached on."""

    def __init__(self, **kwargs) -> None:
        self._listened = _RecordWhenListened()
        super().__init__(sampler=self._listened, **kwargs)

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        super().add_span_processor(span_processor)
        self._listened.listened = True


def instrument_engine(engine) -> None:
    """SQL spans carry the statement with its placeholders, never the bound values (SSNs, tokens).

    The instrumentation's per-engine tracer, not `SQLAlchemyInstrumentor().instrument(engine=…)`: the instrumentor
    is a process-wide singleton that instruments only the first engine it is given, and a process (the tests, the
    API with its own and the workers' engines) has several."""
    from opentelemetry import metrics
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    sync_engine = engine.sync_engine
    if getattr(sync_engine, "_taxpractice_traced", False):
        return
    connections = metrics.get_meter(__name__).create_up_down_counter("db.client.connections.usage")
    EngineTracer(trace.get_tracer("sqlalchemy"), sync_engine, connections, enable_commenter=False)
    sync_engine._taxpractice_traced = True


# Span attributes that carry the request's URL: its query string can carry a magic-link token, an email or a
# search term (api/access_log.py), so it never leaves the process; its path is what a caller typed (an SSN in
# place of an id), so it is scrubbed like a log line. The span's name is the route template.
_URL_ATTRIBUTES = ("http.target", "http.url", "url.full", "url.path")


def _drop_query_strings(span, scope) -> None:
    if not span.is_recording():
        return
    from observability.logs import scrub

    attributes = getattr(span, "attributes", None) or {}
    for key in _URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str):
            span.set_attribute(key, scrub(value.split("?", 1)[0]))
    if "url.query" in attributes:
        span.set_attribute("url.query", "[redacted]")


def instrument_app(app) -> None:
    """Server spans named by route template, without query strings; the liveness and readiness probes are left
    out (noise), and so are the instrumentation's child spans for each ASGI message received and sent: three or
    more spans a request (one per chunk of a download) that time nothing the server span and the SQL spans do
    not (issue 19: part of the list's cost over a bare endpoint).

    The ASGI middleware starts the span before the request is routed, under the method alone; the request
    metrics middleware, inside it, names it by the route the router matched (`name_server_span`). The FastAPI
    instrumentation finds the route for the name by trying each route's pattern in turn before routing, a
    second routing of every request: 43 µs for a list page, 251 µs for a transition (issue 19)."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    app.add_middleware(OpenTelemetryMiddleware, excluded_urls="/v1/health", default_span_details=_method_only,
                       server_request_hook=_drop_query_strings, exclude_spans=["receive", "send"])


def _method_only(scope) -> tuple[str, dict]:
    from opentelemetry.util.http import sanitize_method

    method = sanitize_method(scope.get("method", "").strip())
    return ("HTTP" if method == "_OTHER" else method), {}


def name_server_span(method: str, route: str) -> None:
    """Name the request's server span (the current span, when the ASGI middleware made one) by its route."""
    span = trace.get_current_span()
    if span.is_recording():
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
