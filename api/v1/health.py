"""Unauthenticated liveness (spec §14.4) and readiness (for load balancers; docs/operations.md)."""

from datetime import datetime, timezone

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api import health_checks
from api.deps import State
from api.json_route import JSONRoute
from api.openapi import answers
from api.problems import PROBLEM_JSON, RETRY_AFTER_S, problem_body
from api.schemas.health import Liveness, Readiness

router = APIRouter(route_class=JSONRoute, tags=["health"])


@router.get("/health", summary="Liveness", operation_id="get_health", **answers(Liveness, public=True))
async def health(state: State):
    """No authentication; says the API process is up and nothing more (a restart would not fix a database outage,
    so liveness must not fail on one). Whether it can serve is /v1/health/ready."""
    return {"status": "healthy", "version": state.settings.version,
            "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")}


@router.get("/health/ready", summary="Readiness", operation_id="get_readiness", **answers(Readiness, public=True))
async def ready(state: State):
    """No authentication; 200 when Postgres and Temporal both answer, 503 (problem+json, naming the component,
    with each component's state in `components`) when either does not: a load balancer takes this process out of
    rotation until they do."""
    components = await health_checks.readiness(state)
    down = [name for name, c in components.items() if c["status"] != "healthy"]
    if not down:
        return {"status": "ready", "components": components}
    body = problem_body(503, f"Not ready: {', '.join(down)} cannot be reached", "/v1/health/ready", code="not_ready")
    body["components"] = components
    return JSONResponse(body, status_code=503, media_type=PROBLEM_JSON,
                        headers={"Retry-After": str(RETRY_AFTER_S)})
