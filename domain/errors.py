"""Domain errors carry their HTTP status and a stable code; one API handler renders them as RFC 7807.

Kept free of web frameworks so activities can raise them too (they become non-retryable ApplicationErrors).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass
class FieldError:
    field: str
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"field": self.field, "code": self.code, "message": self.message}


@dataclass
class DomainError(Exception):
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    status: int = 400
    code: str = "bad_request"
    title: str = "Bad Request"

    def __post_init__(self) -> None:
        super().__init__(self.detail)


class ValidationFailed(DomainError):
    def __init__(self, detail: str = "One or more fields failed validation", errors: list[FieldError] | None = None):
        super().__init__(detail, errors or [], 400, "validation", "Validation Error")


def date_out_of_range(name: str, earliest: date, latest: date) -> ValidationFailed:
    """A date outside the window its field can plausibly take: a typo of the year, or a probe (year 1 or 9999
    would later overflow a workflow's date arithmetic). The message names the window, never the value."""
    return ValidationFailed(f"{name} is out of range",
                            [FieldError(name, "out_of_range", f"{name} must be from {earliest} to {latest}")])


class Unauthorized(DomainError):
    def __init__(self, detail: str = "Missing or invalid authentication"):
        super().__init__(detail, [], 401, "unauthorized", "Unauthorized")


class Forbidden(DomainError):
    def __init__(self, detail: str = "You do not have permission to perform this action"):
        super().__init__(detail, [], 403, "forbidden", "Forbidden")


class NotFound(DomainError):
    def __init__(self, resource: str = "Resource"):
        super().__init__(f"{resource} not found", [], 404, "not_found", "Not Found")


class Conflict(DomainError):
    def __init__(self, detail: str, errors: list[FieldError] | None = None):
        super().__init__(detail, errors or [], 409, "conflict", "Conflict")


class BusinessRuleViolation(DomainError):
    def __init__(self, detail: str, errors: list[FieldError] | None = None, code: str = "business_rule"):
        super().__init__(detail, errors or [], 422, code, "Business Rule Violation")


class RateLimited(DomainError):
    """Answered with Retry-After: the seconds until the caller would be admitted."""

    def __init__(self, detail: str, retry_after_s: int):
        super().__init__(detail, [], 429, "rate_limited", "Too Many Requests")
        self.retry_after_s = retry_after_s


class ServiceUnavailable(DomainError):
    """A part the request needs (Temporal, Postgres) cannot be reached or did not answer; nothing was changed
    unless the detail says otherwise. The caller may retry (the answer carries Retry-After)."""

    def __init__(self, detail: str):
        super().__init__(detail, [], 503, "unavailable", "Service Unavailable")
