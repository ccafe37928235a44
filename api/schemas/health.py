"""Read models of the health endpoints (spec §14.4)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.health_checks import COMPONENT_STATUSES, OVERALL_STATUSES
from api.schemas.base import one_of


class Liveness(BaseModel):
    status: one_of(("healthy",))
    version: str
    timestamp: str


class ComponentHealth(BaseModel):
    status: one_of(COMPONENT_STATUSES)
    latency_ms: float | None = Field(None, description="the probe's round trip, when it answered")
    error: str | None = Field(None, description="the kind of failure, when it did not (never its message)")
    detail: str | None = Field(None, description="what the component is (a sandbox, a host), or why not configured")


class Readiness(BaseModel):
    status: one_of(("ready",))
    components: dict[str, ComponentHealth]


class DetailedHealth(BaseModel):
    status: one_of(OVERALL_STATUSES)
    components: dict[str, ComponentHealth]
