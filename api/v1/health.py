"""Unauthenticated liveness (spec §14.4)."""

from datetime import datetime, timezone

from fastapi import APIRouter

from api.deps import State

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness")
async def health(state: State):
    """No authentication; says the API process is up. Component probes are under /v1/admin/health/detailed."""
    return {"status": "healthy", "version": state.settings.version,
            "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")}
