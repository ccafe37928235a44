"""Running it in production (docs/operations.md): structured logs, Prometheus metrics, OpenTelemetry traces and
the context they share (request, correlation, firm, workflow and trace ids). Imported by the API, the workers and
the CLI; imports none of them."""
