"""Read models of the health endpoints (spec §14.4): bare bodies, without the envelope."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api.health_checks import COMPONENT_STATUSES, OVERALL_STATUSES
from api.openapi import ReadModel
from api.schemas.base import one_of


class Liveness(ReadModel):
    status: one_of(("healthy",))
    version: str
    timestamp: datetime


class ComponentHealth(ReadModel):
    status: one_of(COMPONENT_STATUSES)
    latency_ms: float | None = Field(None, description="the probe's round trip, when it answered")
    error: str | None = Field(None, description="the kind of failure, when it did not (never its message)")
    detail: str | None = Field(None, description="what the component is (a sandbox, a host), or why not configured")


class Readiness(ReadModel):
    status: one_of(("ready",))
    components: dict[str, ComponentHealth]


class DetailedHealth(ReadModel):
    status: one_of(OVERALL_STATUSES)
    components: dict[str, ComponentHealth]
