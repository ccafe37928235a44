"""Prometheus metrics: the API's requests by route template, method and status with latency; business gauges;
/metrics on a port of its own, never on the public API; the workers' SDK metrics on theirs."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import httpx
from prometheus_client import REGISTRY, generate_latest

from devstack.ports import free_port
from domain.outbox.models import OutboxEntry
from domain.tax_return.models import TaxReturn
from observability import business_gauges
from observability.metrics_server import serve_metrics
from observability.worker_telemetry import worker_runtime
from orchestration.connect import connect


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_requests_are_counted_by_route_template_method_and_status(tp, admin):
    client = await tp.new_client(admin)
    before = sample("taxpractice_http_requests_total", route="/v1/clients/{client_id}", method="GET", status="200")
    missing_before = sample("taxpractice_http_requests_total", route="/v1/clients/{client_id}", method="GET",
                            status="404")
    assert (await tp.http.get(f"/v1/clients/{client['id']}", headers=admin)).status_code == 200
    assert (await tp.http.get(f"/v1/clients/{uuid.uuid4()}", headers=admin)).status_code == 404
    assert sample("taxpractice_http_requests_total", route="/v1/clients/{client_id}", method="GET",
                  status="200") == before + 1
    assert sample("taxpractice_http_requests_total", route="/v1/clients/{client_id}", method="GET",
                  status="404") == missing_before + 1
    assert sample("taxpractice_http_request_duration_seconds_count", route="/v1/clients/{client_id}",
                  method="GET") >= 2
    # No id ever becomes a label value: a path no route matches is one series.
    await tp.http.get(f"/v1/nothing-here/{uuid.uuid4()}")
    exposition = generate_latest().decode()
    assert client["id"] not in exposition and 'route="unmatched"' in exposition


async def test_metrics_are_not_on_the_public_api_but_on_their_own_port(tp):
    assert (await tp.http.get("/metrics")).status_code == 404
    assert (await tp.http.get("/v1/metrics")).status_code == 404
    port = free_port()
    serve_metrics(port, "127.0.0.1")
    await tp.http.get("/v1/health")
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    assert "taxpractice_http_requests_total" in response.text


async def test_business_gauges_count_returns_stuck_returns_and_the_outbox(tp, firm, admin):
    client = await tp.new_client(admin)
    now = datetime.now(timezone.utc)
    async with tp.state.sessionmaker.begin() as session:
        session.add(TaxReturn(id=uuid.uuid4(), firm_id=firm, client_id=uuid.UUID(client["id"]), tax_year=2031,
                              return_type="1040", status="in_review", stuck_since=now, extension_filed=False,
                              due_date=datetime(2032, 4, 15).date(), priority="normal",
                              federal_status="not_started", state_filings=[]))
        entry = OutboxEntry(id=uuid.uuid4(), entity_type="test", entity_id="gauge", kind="test.kind", payload={},
                            attempts=2)
        session.add(entry)
    try:
        await business_gauges.refresh(tp.state.engine)
        assert sample("taxpractice_returns", status="in_review") >= 1
        assert sample("taxpractice_returns_stuck") >= 1
        assert sample("taxpractice_outbox_depth", kind="test.kind") == 1
        assert sample("taxpractice_outbox_failing") >= 1
        assert sample("taxpractice_outbox_oldest_age_seconds") >= 0
        assert REGISTRY.get_sample_value("taxpractice_reminders_late") is not None
    finally:
        async with tp.state.sessionmaker.begin() as session:
            await session.delete(await session.get(OutboxEntry, entry.id))


async def test_a_gauge_whose_query_fails_leaves_the_others_refreshed(tp):
    broken = business_gauges.business_gauge("taxpractice_test_broken", "a table not migrated", [],
                                            "SELECT count(*) FROM no_such_table")
    working = business_gauges.business_gauge("taxpractice_test_working", "answers", [], "SELECT 7")
    await business_gauges.refresh(tp.state.engine, [broken, working])
    assert sample("taxpractice_test_working") == 7
    assert sample("taxpractice_test_broken") == 0  # never set


async def test_the_workers_sdk_metrics_are_served_on_their_own_port(tp):
    port = free_port()
    client = await connect(tp.settings, runtime=worker_runtime("127.0.0.1", port))
    await client.service_client.check_health()
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    assert "temporal_request" in response.text  # the SDK's own client metrics
