"""What the health endpoints measure (docs/operations.md, health).

Readiness (for load balancers) needs only what every request needs: Postgres and Temporal. The detailed report
(admin) probes every component spec §14.4 lists that this stack has, each with its latency, and names the ones
not configured (Redis and Persona are not part of this stack; SurePrep, SmartVault and Bedrock are when their
settings say so). Every probe is bounded by a timeout and reports a failure by its kind, never its message
(a message can carry a host name with credentials).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
from sqlalchemy import text

from api.state import AppState

PROBE_TIMEOUT_S = 3.0
# The words of the answers (api/schemas/health.py reads them from here).
COMPONENT_STATUSES = ("healthy", "unhealthy", "not_configured")
OVERALL_STATUSES = ("healthy", "degraded")
# Spec §14.4 lists these; the stack has neither (rate limits and idempotency live in Postgres; no identity provider).
ABSENT_COMPONENTS = {"redis": "rate limits and idempotency keys are kept in Postgres",
                     "persona": "no identity-verification provider is integrated"}


async def probe(check: Callable[[], Awaitable[object]], detail: str | None = None) -> dict:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), timeout=PROBE_TIMEOUT_S)
    except Exception as exc:  # a probe reports any failure as the component's state
        return {"status": "unhealthy", "error": type(exc).__name__, "detail": detail}
    return {"status": "healthy", "latency_ms": round((time.perf_counter() - started) * 1000, 1), "detail": detail}


def not_configured(why: str) -> dict:
    return {"status": "not_configured", "detail": why}


def database_check(state: AppState):
    async def check():
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    return check


def temporal_check(state: AppState):
    async def check():
        client = await state.temporal()
        # Retried within the probe's own time limit: one dropped call on a busy server is not "unreachable".
        await client.service_client.check_health(retry=True)
    return check


def http_check(url: str, headers: dict | None = None):
    """Reachable and answering: any status below 500 except a refused credential (401/403) — a provider's base URL
    or an unknown id answers 404 and still proves the service is up and our key accepted."""
    async def check():
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as client:
            response = await client.get(url, headers=headers)
        if response.status_code >= 500 or response.status_code in (401, 403):
            raise ConnectionError(f"HTTP {response.status_code}")
    return check


def smtp_check(host: str, port: int):
    async def check():
        reader, writer = await asyncio.open_connection(host, port)
        try:
            greeting = await reader.readline()
            if not greeting.startswith(b"220"):
                raise ConnectionError("no SMTP greeting")
        finally:
            writer.close()
    return check


async def readiness(state: AppState) -> dict[str, dict]:
    database, temporal = await asyncio.gather(probe(database_check(state)), probe(temporal_check(state)))
    return {"database": database, "temporal": temporal}


async def detailed(state: AppState) -> dict[str, dict]:
    settings = state.settings
    checks: dict[str, Awaitable[dict]] = {
        "database": probe(database_check(state)),
        "temporal": probe(temporal_check(state), settings.temporal_address),
        "s3": probe(state.storage.probe, settings.s3_endpoint_url or "AWS S3"),
        "mail": probe(smtp_check(settings.smtp_host, settings.smtp_port), f"SMTP {settings.smtp_host}"),
        # An unknown payment intent: 404 from Stripe (or its sandbox) once the key is accepted.
        "stripe": probe(http_check(f"{(settings.stripe_api_base or 'https://api.stripe.com').rstrip('/')}"
                                   "/v1/payment_intents/pi_health_probe",
                                   {"Authorization": f"Bearer {settings.stripe_api_key}"}),
                        "sandbox" if settings.stripe_api_base else "Stripe"),
    }
    for name, url in (("sureprep", settings.sureprep_api_url), ("smartvault", settings.smartvault_api_url)):
        checks[name] = probe(http_check(url), url) if url else _ready(not_configured(f"{name.upper()}_API_URL unset"))
    checks["bedrock"] = (_ready(not_configured("AI_ANALYZER=offline: returns are analysed without a model"))
                         if settings.ai_analyzer == "offline" else _ready({"status": "healthy", "detail":
                                                                            "configured; not probed (a call costs)"}))
    names = list(checks)
    results = dict(zip(names, await asyncio.gather(*checks.values())))
    results.update({name: not_configured(why) for name, why in ABSENT_COMPONENTS.items()})
    return results


async def _ready(value: dict) -> dict:
    return value


def overall(components: dict[str, dict]) -> str:
    return "degraded" if any(c["status"] == "unhealthy" for c in components.values()) else "healthy"
