"""The workers' part in operations: the Temporal SDK runtime serving its own Prometheus endpoint (workflow task
and activity latency, schedule-to-start, failures, slots in use: docs/operations.md lists them), logs, traces."""

from __future__ import annotations

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from observability import logs, tracing


def worker_runtime(host: str, port: int) -> Runtime | None:
    """A runtime whose metrics are served at http://host:port/metrics; None (the default runtime) when port is 0.
    Histograms in seconds, to match the API's."""
    if not port:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(
        bind_address=f"{host}:{port}", durations_as_seconds=True)))


def configure_worker_process(json_lines: bool, level: int, otlp_endpoint: str | None, version: str) -> None:
    logs.configure(json_lines=json_lines, level=level)
    tracing.configure_tracing("taxpractice-worker", otlp_endpoint, version)
