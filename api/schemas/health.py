"""Read models of the health endpoints (spec §14.4)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Liveness(BaseModel):
    status: Literal["healthy"]
    version: str
    timestamp: str


class ComponentHealth(BaseModel):
    status: Literal["healthy", "unhealthy", "not_configured"]
    latency_ms: float | None = Field(None, description="the probe's round trip, when it answered")
    error: str | None = Field(None, description="the kind of failure, when it did not (never its message)")
    detail: str | None = Field(None, description="what the component is (a sandbox, a host), or why not configured")


class Readiness(BaseModel):
    status: Literal["ready"]
    components: dict[str, ComponentHealth]


class DetailedHealth(BaseModel):
    status: Literal["healthy", "degraded"]
    components: dict[str, ComponentHealth]
