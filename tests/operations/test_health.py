"""Health that tells the truth: liveness stays the spec's, readiness fails when Postgres or Temporal cannot be
reached, and the detailed report measures every component and names the ones not configured."""

from __future__ import annotations

import contextlib
from urllib.parse import urlparse

import httpx

from api.app import create_app
from api.state import build_state
from devstack.ports import accepts_connections, free_port
from tests.support import api_without_temporal

PROBLEM_JSON = "application/problem+json"


@contextlib.asynccontextmanager
async def api_without_postgres(tp):
    settings = tp.settings.model_copy(update={
        "database_url": f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/nothing"})
    state = build_state(settings)
    state.use_temporal_client(tp.temporal)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, state)),
                                     base_url="http://testserver") as http:
            yield http
    finally:
        await state.engine.dispose()


async def test_liveness_stays_the_spec_answer_even_without_temporal(tp):
    async with api_without_temporal(tp) as cut_off:
        response = await cut_off.get("/v1/health")
    assert response.status_code == 200
    assert set(response.json()) == {"status", "version", "timestamp"}


async def test_readiness_answers_200_when_postgres_and_temporal_answer(tp):
    response = await tp.http.get("/v1/health/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert {name: c["status"] for name, c in body["components"].items()} == {"database": "healthy",
                                                                              "temporal": "healthy"}


async def test_readiness_fails_with_503_when_temporal_cannot_be_reached(tp):
    async with api_without_temporal(tp) as cut_off:
        response = await cut_off.get("/v1/health/ready")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert "temporal" in body["detail"] and body["components"]["temporal"]["status"] == "unhealthy"
    assert body["components"]["database"]["status"] == "healthy"
    assert response.headers["retry-after"]


async def test_readiness_fails_with_503_when_postgres_cannot_be_reached(tp):
    async with api_without_postgres(tp) as cut_off:
        assert (await cut_off.get("/v1/health")).status_code == 200  # liveness: the process is up
        response = await cut_off.get("/v1/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["components"]["database"]["status"] == "unhealthy"
    assert body["components"]["database"]["error"]  # its kind, not its message
    assert "nobody" not in response.text  # no connection string in the answer


async def test_detailed_health_measures_each_component_and_names_those_not_configured(tp, admin):
    response = await tp.http.get("/v1/admin/health/detailed", headers=admin)
    assert response.status_code == 200, response.text
    components = response.json()["components"]
    for name in ("database", "temporal", "s3", "mail"):
        assert components[name]["status"] == "healthy" and components[name]["latency_ms"] >= 0, components
    for name in ("redis", "persona", "bedrock"):
        assert components[name]["status"] == "not_configured" and components[name]["detail"], components
    # SurePrep and SmartVault: probed when their URL is set (the document tests point them at sandboxes).
    for name, url in (("sureprep", tp.settings.sureprep_api_url), ("smartvault", tp.settings.smartvault_api_url)):
        expected = {"healthy", "unhealthy"} if url else {"not_configured"}
        assert components[name]["status"] in expected and components[name]["detail"], components[name]
    # The payments sandbox runs only while the billing tests (or the demo's) have started it: when it does not,
    # Stripe is reported unhealthy and the whole report degraded, not hidden.
    sandbox_up = accepts_connections(urlparse(tp.settings.stripe_api_base).port)
    assert components["stripe"]["status"] == ("healthy" if sandbox_up else "unhealthy"), components["stripe"]
    if not sandbox_up:
        assert response.json()["status"] == "degraded"


async def test_detailed_health_is_admin_only(tp, firm):
    _, preparer = await tp.staff_session(firm, "preparer")
    response = await tp.http.get("/v1/admin/health/detailed", headers=preparer)
    assert response.status_code == 403
