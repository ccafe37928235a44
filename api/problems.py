"""RFC 7807 `application/problem+json` for every error, shaped as spec §3.3 shows."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.request_context import meta
from domain.errors import DomainError, RateLimited, ServiceUnavailable
from orchestration.connect import TemporalError, is_unreachable

log = logging.getLogger("taxpractice.api")

ERROR_TYPE_BASE = "https://api.taxpractice.example.com/errors/"
PROBLEM_JSON = "application/problem+json"

_STATUS_CODES = {
    400: ("bad_request", "Bad Request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not Found"),
    405: ("method_not_allowed", "Method Not Allowed"),
    406: ("not_acceptable", "Not Acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload_too_large", "Payload Too Large"),
    415: ("unsupported_media_type", "Unsupported Media Type"),
    422: ("business_rule", "Business Rule Violation"),
    429: ("rate_limited", "Too Many Requests"),
    500: ("internal", "Internal Server Error"),
    503: ("unavailable", "Service Unavailable"),
}
# What a 503 asks the caller to wait before retrying: long enough for a restarted part to come back.
RETRY_AFTER_S = 5
# The database down, its connection lost, or no pooled connection free within DB_POOL_TIMEOUT_S (a burst): the
# operator's problem, answered 503 with Retry-After wherever it surfaces (a route, a middleware).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)
DATABASE_UNAVAILABLE_DETAIL = "The database is unavailable or busy; retry shortly"


def problem_body(status: int, detail: str, instance: str, code: str | None = None, title: str | None = None,
                 errors: list[dict] | None = None) -> dict:
    default_code, default_title = _STATUS_CODES.get(status, ("error", "Error"))
    body = {
        "type": ERROR_TYPE_BASE + (code or default_code),
        "title": title or default_title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors:
        body["errors"] = errors
    body["meta"] = meta()
    return body


def problem_response(status: int, detail: str, instance: str, headers: dict | None = None, **kwargs) -> JSONResponse:
    return JSONResponse(problem_body(status, detail, instance, **kwargs), status_code=status,
                        media_type=PROBLEM_JSON, headers=headers)


def problem_bytes(status: int, detail: str, instance: str, **kwargs) -> bytes:
    return json.dumps(problem_body(status, detail, instance, **kwargs)).encode()


def _field_name(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


_PYDANTIC_CODES = {
    "missing": "required",
    "extra_forbidden": "unknown_field",
    "json_invalid": "malformed_json",
    "string_too_long": "too_long",
    "string_too_short": "too_short",
    "value_error": "invalid_value",
    "enum": "invalid_choice",
    "literal_error": "invalid_choice",
    "uuid_parsing": "invalid_format",
}


def _validation_errors(exc: RequestValidationError) -> list[dict]:
    errors = []
    for err in exc.errors():
        kind = err.get("type", "invalid")
        message = err.get("msg", "invalid value")
        field = _field_name(tuple(err.get("loc", ())))
        if kind == "extra_forbidden":
            message = "Unknown field"
        elif kind in ("literal_error", "enum") and "expected" in err.get("ctx", {}):
            # The allowed values, in the domain's order, as the list filters say them (domain/listing.py).
            allowed = err["ctx"]["expected"].replace("'", "").replace(" or ", ", ")
            message = f"{field.rsplit('.', 1)[-1]} must be one of: {allowed}"
        errors.append({"field": field, "code": _PYDANTIC_CODES.get(kind, kind), "message": message})
    return errors


def _allowed_methods(request: Request) -> list[str]:
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError):
        # RFC 6750: a 401 names the scheme the caller should authenticate with.
        headers = None
        if exc.status == 401:
            headers = {"WWW-Authenticate": 'Bearer realm="taxpractice"'}
        elif exc.status == 503:
            headers = {"Retry-After": str(RETRY_AFTER_S)}
        elif isinstance(exc, RateLimited):
            headers = {"Retry-After": str(exc.retry_after_s)}
        return problem_response(exc.status, exc.detail, request.url.path, headers=headers, code=exc.code,
                                title=exc.title, errors=[e.as_dict() for e in exc.errors])

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = _validation_errors(exc)
        if any(e["code"] == "malformed_json" for e in errors):
            return problem_response(400, "The request body is not valid JSON", request.url.path,
                                    code="malformed_json", title="Malformed JSON", errors=errors)
        return problem_response(400, "One or more fields failed validation", request.url.path,
                                code="validation", title="Validation Error", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else _STATUS_CODES.get(exc.status_code, ("", "Error"))[1]
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No resource at {request.url.path}"
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
            # Starlette names only the first route that matched the path; Allow must list every method.
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        return problem_response(exc.status_code, detail, request.url.path, headers=headers)

    # A dependency that is down is the operator's problem, not the caller's: 503 with Retry-After, not 500.
    # Postgres rolls the request's transaction back, and a Temporal call that did not get through changed nothing.
    async def database_unreachable(request: Request, exc: Exception):
        log.warning("request %s: database unavailable (%s)", meta()["request_id"], type(exc.__cause__ or exc).__name__)
        return await domain_error(request, ServiceUnavailable(DATABASE_UNAVAILABLE_DETAIL))

    for unavailable in DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, database_unreachable)

    @app.exception_handler(TemporalError)
    async def temporal_error(request: Request, exc: TemporalError):
        if not is_unreachable(exc):
            return await unexpected(request, exc)
        log.warning("request %s: Temporal unavailable (%s)", meta()["request_id"], exc.status.name)
        return await domain_error(request, ServiceUnavailable("The workflow engine cannot be reached; retry shortly"))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        # What RequestContextMiddleware does not catch (it answers the app's own exceptions without re-raising).
        log_unexpected(exc)
        return problem_response(500, UNEXPECTED_ERROR, request.url.path)


UNEXPECTED_ERROR = "An unexpected error occurred; quote the request_id to support"


def log_unexpected(exc: BaseException) -> None:
    # The request id in the message itself, whatever the log format, since the caller is told to quote it; never
    # the request body, which may hold an SSN.
    log.error("request %s: unhandled error", meta()["request_id"], exc_info=exc)
