"""Unauthenticated liveness (spec §14.4)."""

from datetime import datetime, timezone

from fastapi import APIRouter
from pydantic import Field

from api.deps import State
from api.openapi import ReadModel, answers

router = APIRouter(tags=["health"])


class Liveness(ReadModel):
    """Spec §14.4: a bare body, without the envelope."""

    status: str = Field(examples=["healthy"])
    version: str
    timestamp: datetime


@router.get("/health", summary="Liveness", operation_id="get_health", **answers(Liveness, public=True))
async def health(state: State):
    """No authentication; says the API process is up. Component probes are under /v1/admin/health/detailed."""
    return {"status": "healthy", "version": state.settings.version,
            "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")}
