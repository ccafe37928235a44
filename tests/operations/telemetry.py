"""What the operations tests read: every log line of a test as JSON, and the spans it made."""

from __future__ import annotations

import contextlib
import io
import json
import logging

from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from observability.logs import JsonLines


@contextlib.contextmanager
def json_log_lines(level: int = logging.DEBUG):
    """Every record, at every level, through the production formatter: yields a function returning the lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    handler.setLevel(level)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


@contextlib.contextmanager
def recorded_spans():
    """Spans finished meanwhile, from the process's tracer provider (observability/tracing.py)."""
    exporter = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield exporter.get_finished_spans
    finally:
        exporter.shutdown()  # a provider's processors cannot be removed; a stopped exporter keeps nothing
