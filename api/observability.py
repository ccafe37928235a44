"""The API's part in operations (docs/operations.md): its log lines' request fields, request metrics, traces,
`/metrics` on its own port and the business gauges. Called once by `create_app`."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI

from api.request_context import correlation_id_var, request_id_var
from api.state import AppState
from observability import business_gauges, context, logs, tracing
from observability.http_metrics import RequestMetricsMiddleware
from observability.metrics_server import serve_metrics
from settings import Settings


def configure_process(settings: Settings) -> None:
    """Logs and the tracer provider of the process serving the app (uvicorn's, or the tests')."""
    logs.configure(json_lines=settings.logs_as_json, level=getattr(logging, settings.log_level))
    tracing.configure_tracing("taxpractice-api", settings.otel_exporter_otlp_endpoint, settings.version)


def install(app: FastAPI, settings: Settings, state: AppState) -> None:
    context.register_field("request_id", request_id_var.get)
    context.register_field("correlation_id", correlation_id_var.get)
    app.add_middleware(RequestMetricsMiddleware)
    tracing.instrument_app(app)
    tracing.instrument_engine(state.engine)


@contextlib.asynccontextmanager
async def running(settings: Settings, state: AppState):
    """For the app's lifespan: /metrics on its port and the gauges kept fresh, when a metrics port is set."""
    if not settings.api_metrics_port:
        yield
        return
    serve_metrics(settings.api_metrics_port, settings.metrics_host)
    refresher = asyncio.create_task(business_gauges.keep_fresh(state.engine, settings.business_gauges_interval_s))
    try:
        yield
    finally:
        refresher.cancel()
        await asyncio.gather(refresher, return_exceptions=True)
