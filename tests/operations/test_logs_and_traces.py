"""Structured logs and traces: every log line of a request carries its request, correlation, firm and trace ids;
the problem+json `meta` carries the trace id; one trace runs from the HTTP request through the Temporal client
into the workflow and its activities; a collector that cannot be reached fails no request."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from devstack.ports import free_port
from observability.logs import Readable, scrub
from observability.tracing import ListenedTracerProvider
from tests.operations.telemetry import json_log_lines, recorded_spans


async def test_a_request_line_carries_the_request_correlation_and_trace_ids(tp, admin):
    with json_log_lines() as lines:
        response = await tp.http.get(f"/v1/clients/{uuid.uuid4()}", headers={**admin, "X-Correlation-ID": "call-7"})
    assert response.status_code == 404
    meta = response.json()["meta"]
    assert len(meta["trace_id"]) == 32
    [line] = [line for line in lines() if line["logger"] == "taxpractice.request"]
    assert line["route"] == "/v1/clients/{client_id}" and line["status"] == 404
    assert line["request_id"] == meta["request_id"] == response.headers["x-request-id"]
    assert line["correlation_id"] == "call-7"
    assert line["trace_id"] == meta["trace_id"]
    assert line["level"] == "info" and line["ts"].endswith("Z")


async def test_a_line_logged_while_serving_a_signed_in_caller_names_the_firm(tp, firm, admin):
    with json_log_lines() as lines:
        await tp.http.get("/v1/clients", headers=admin)
    [line] = [line for line in lines() if line["logger"] == "taxpractice.request"]
    assert line["firm_id"] == str(firm)


async def test_one_trace_runs_from_the_request_through_the_workflow_to_its_activities_and_sql(tp, admin):
    with recorded_spans() as spans, json_log_lines() as lines:
        response = await tp.http.post("/v1/admin/audit/export", headers=admin, json={
            "start_date": "2024-01-01T00:00:00Z", "end_date": "2025-01-01T00:00:00Z"})
        assert response.status_code == 202, response.text
        trace_id = int(response.json()["meta"]["trace_id"], 16)
        deadline = time.monotonic() + 20
        while not any(s.name.startswith("RunActivity:") and s.context.trace_id == trace_id for s in spans()):
            assert time.monotonic() < deadline, sorted({s.name for s in spans()})
            await asyncio.sleep(0.1)
    names = {s.name for s in spans() if s.context.trace_id == trace_id}
    assert any(n.startswith("StartWorkflow:AuditExport") for n in names), names
    assert any(n.startswith("RunWorkflow:AuditExport") for n in names), names
    assert any(n.startswith("RunActivity:") for n in names), names
    # SQL spans carry the statement with placeholders only.
    statements = [s.attributes.get("db.statement", "") for s in spans() if s.attributes.get("db.statement")]
    assert statements and not any("2024-01-01" in st for st in statements)
    # The log line of the request is found by the same trace id.
    assert any(line.get("trace_id") == format(trace_id, "032x") for line in lines())


async def test_an_s3_call_of_a_request_is_a_span_of_its_trace(tp, admin):
    with recorded_spans() as spans:
        response = await tp.http.get("/v1/admin/health/detailed", headers=admin)
        trace_id = int(response.json()["meta"]["trace_id"], 16) if "meta" in response.json() else None
    # The detailed report has no envelope; its trace is the one of the request's server span.
    [server] = [s for s in spans() if s.name == "GET /v1/admin/health/detailed"]
    trace_id = trace_id or server.context.trace_id
    assert any(s.name == "S3.HeadBucket" and s.context.trace_id == trace_id for s in spans()), \
        sorted({s.name for s in spans()})


async def test_the_mail_a_request_sends_is_a_span_of_its_trace_without_the_recipient(tp, admin):
    email = "traced-invitation@firm.example.com"
    with recorded_spans() as spans:
        response = await tp.http.post("/v1/admin/users", headers=admin,
                                      json={"email": email, "full_name": "Tia Traced", "role": "reviewer"})
        assert response.status_code == 201, response.text
        await tp.wait_for_mail(email)
        trace_id = int(response.json()["meta"]["trace_id"], 16)
        [smtp] = [s for s in spans() if s.name == "smtp send" and s.context.trace_id == trace_id]
    assert smtp.attributes["server.address"] == tp.settings.smtp_host
    assert email not in str(dict(smtp.attributes))


async def test_an_unreachable_otlp_collector_fails_no_request(tp, admin):
    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{free_port()}/v1/traces", timeout=1)
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=50)
    trace.get_tracer_provider().add_span_processor(processor)
    try:
        for _ in range(5):
            assert (await tp.http.get("/v1/clients", headers=admin)).status_code == 200
        await asyncio.to_thread(processor.force_flush, 2000)  # the failed export happens, off the request path
        assert (await tp.http.get("/v1/health/ready")).status_code == 200
    finally:
        await asyncio.to_thread(processor.shutdown)


def test_scrub_masks_ssns_tokens_and_secrets():
    text = ("ssn 123-45-6789 tin 987654321 Authorization: Bearer abc.def-ghi "
            "jwt eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl password=hunter2 token: s3cr3t")
    cleaned = scrub(text)
    for secret in ("123-45-6789", "987654321", "abc.def-ghi", "eyJhbGciOiJSUzI1NiJ9", "hunter2", "s3cr3t"):
        assert secret not in cleaned, cleaned
    # Ids and counts are left alone.
    assert scrub("return 3f2b1c4e-1111-2222-3333-444455556666 took 12345 ms") == \
        "return 3f2b1c4e-1111-2222-3333-444455556666 took 12345 ms"


def test_development_lines_are_readable_and_carry_the_same_fields():
    record = logging.makeLogRecord({"name": "taxpractice.test", "levelname": "INFO", "msg": "hello %s",
                                    "args": ("123-45-6789",)})
    line = Readable().format(record)
    assert "INFO" in line and "taxpractice.test" in line and "hello ***-**-****" in line


async def test_a_line_logged_inside_an_activity_names_its_workflow():
    from temporalio import activity
    from temporalio.testing import ActivityEnvironment

    @activity.defn(name="logs_something")
    async def logs_something() -> None:
        logging.getLogger("activities.test").info("working on it")

    with json_log_lines() as lines:
        await ActivityEnvironment().run(logs_something)
    [line] = [line for line in lines() if line["logger"] == "activities.test"]
    assert line["workflow_id"] == "test"  # ActivityEnvironment's workflow id


def test_spans_are_recorded_only_while_a_processor_listens_and_keep_their_ids_meanwhile():
    # A provider of its own: the process's one has had the suite's processors attached long since.
    provider = ListenedTracerProvider()
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("unheard") as span:
        assert not span.is_recording()
        assert span.get_span_context().is_valid  # the trace id the log lines carry
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with tracer.start_as_current_span("heard") as span:
        assert span.is_recording()
    assert [s.name for s in exporter.get_finished_spans()] == ["heard"]
