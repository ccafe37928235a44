"""What the OpenAPI document says every operation answers (issue 14), declared one way by every router:

    @router.get("/clients/{client_id}", **answers(One(ClientDetail), 404))

`answers` documents the success body inside the spec §3.2 envelope (`One(...)`, `Page(...)` for lists) and each error status
as the §3.3 problem (`application/problem+json`). 401, 429 and 503 are added to every operation that takes a
token (any request may be unauthenticated, rate limited, or meet a database that is down), 400 to every operation
(any request may carry a malformed parameter or body); the router names the rest (403, 404, 409, 413, 415, 422).

The read models are documentation, not a filter: handlers keep returning their dicts, and the schemathesis run in
the test suite (tests/api/test_openapi_conformance.py) holds every answer to the schema declared here.
`build_document` finishes the document: the bearer security scheme, the problem schema, and none of FastAPI's
own 422 "HTTPValidationError" (a malformed request is a 400 problem here, api/problems.py).
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Generic, Iterable, TypeVar

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model

from api.problems import PROBLEM_JSON
from domain.listing import DEFAULT_LIMIT, MAX_LIMIT

T = TypeVar("T")

# An amount of money as the API prints it: a JSON number with exactly two decimal places (api/money_json.py).
Amount = Annotated[Decimal, WithJsonSchema({"type": "number", "examples": [450.00]})]


class ReadModel(BaseModel):
    """A response body's shape. Extra fields are forbidden so that the document (additionalProperties: false)
    catches a renderer that adds a field the model does not declare."""

    model_config = ConfigDict(extra="forbid")


class Meta(ReadModel):
    request_id: str = Field(examples=["req-6f1c3f8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f"])
    correlation_id: str | None = Field(examples=["client-trace-id"])
    trace_id: str | None = Field(None, description="the OpenTelemetry trace of this request (docs/operations.md)",
                                 examples=["4bf92f3577b34da6a3ce929d0e0e4736"])
    timestamp: datetime


class Pagination(ReadModel):
    cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")
    has_more: bool
    total_count: int
    total_count_exact: bool = Field(description="false when total_count is the planner's estimate (over 10,000)")


class _One(ReadModel, Generic[T]):
    """Spec §3.2's success envelope."""

    data: T
    meta: Meta


class _Page(ReadModel, Generic[T]):
    """Spec §3.2's list envelope."""

    data: list[T]
    meta: Meta
    pagination: Pagination


@functools.cache
def One(item: type) -> type[BaseModel]:
    """`{"data": item, "meta"}`, named `<Item>Response` in the document (and in generated clients)."""
    return create_model(f"{item.__name__}Response", __base__=_One[item], __module__=__name__)


@functools.cache
def Page(item: type) -> type[BaseModel]:
    """`{"data": [item], "meta", "pagination"}`, named `<Item>Page`."""
    return create_model(f"{item.__name__}Page", __base__=_Page[item], __module__=__name__)


class ProblemFieldError(ReadModel):
    field: str = Field(examples=["email"])
    code: str = Field(examples=["invalid_format"])
    message: str = Field(examples=["Email must be a valid email address"])


class Problem(BaseModel):
    """Spec §3.3: RFC 7807 `application/problem+json`."""

    type: str = Field(examples=["https://api.taxpractice.example.com/errors/validation"])
    title: str = Field(examples=["Validation Error"])
    status: int = Field(examples=[400])
    detail: str = Field(examples=["One or more fields failed validation"])
    instance: str = Field(examples=["/v1/clients"])
    errors: list[ProblemFieldError] = Field(default_factory=list)
    meta: Meta


ERROR_DESCRIPTIONS = {
    400: "Validation error: malformed JSON, a wrong type, an unknown field or parameter",
    401: "Missing, invalid or expired credentials: the bearer token (a webhook: its signature)",
    403: "The caller's role may not do this",
    404: "No such resource, or not visible to the caller",
    409: "State conflict or duplicate",
    413: "The body is over the size limit",
    415: "Wrong content type",
    422: "Business rule violation",
    429: "Rate limit exceeded (see Retry-After)",
    503: "A dependency (database, workflow engine) cannot be reached; retry after Retry-After",
}
ALWAYS = frozenset({400})
AUTHENTICATED = frozenset({401, 429, 503})
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
BEARER = "bearerAuth"


def list_of(item: type[BaseModel], spec: Any) -> type[BaseModel]:
    """The list envelope of `item`, whose fields must be exactly the ListSpec's output fields (domain/, which
    renders, filters `fields=` and checks every rendered item against them): the read model and the list cannot
    drift, or the API does not start."""
    declared = frozenset(item.model_fields)
    if declared != spec.output_fields:
        raise RuntimeError(f"{item.__name__} and its ListSpec differ: {sorted(declared ^ spec.output_fields)}")
    page = Page(item)
    _LIST_SPECS[page] = spec
    return page


# The ListSpec of each list envelope made by list_of: `answers` documents the list's query parameters from it.
_LIST_SPECS: dict[type, Any] = {}


def list_parameters(spec: Any) -> list[dict]:
    """The query parameters of a list that any value of their schema may take (spec §3.5–3.6). `cursor` is not
    among them: only a cursor the API issued is one (the generated clients read it from `pagination`), and a
    documented `fields=` would make every item's fields optional; filters are described in the operation's text."""
    sorts = sorted(spec.sortable)
    return [
        {"name": "limit", "in": "query", "required": False, "description": "Items per page",
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
        {"name": "sort", "in": "query", "required": False,
         "description": f"A field to sort by, `-` first for descending (default `{spec.default_sort}`)",
         "schema": {"type": "string", "enum": [*sorts, *(f"-{name}" for name in sorts)]}},
    ]


def problems(statuses: Iterable[int]) -> dict[int, dict]:
    return {status: {"description": ERROR_DESCRIPTIONS[status], "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}}}
            for status in sorted(statuses)}


def answers(model: Any = None, *errors: int, status: int = 200, public: bool = False,
            description: str = "Success", content: dict | None = None, also: dict[int, tuple] | None = None,
            body: dict | None = None, headers: list[dict] | None = None,
            answer_headers: dict[str, dict] | None = None) -> dict:
    """The keyword arguments of a route decorator: its status code and every response it can answer.

    `model` is the success body (wrapped by the caller in One(...) or Page(...), or bare for the bodies the spec
    shows without an envelope); None for 204 or when `content` describes a non-JSON body (a download).
    `public` operations take no token (sign-in, webhooks, health): no 401 from authentication is added.
    `also` names other success statuses: {202: (model, "description")}. `body` is a requestBody the handler reads
    itself (a streamed multipart upload, a signed webhook), which FastAPI cannot see; `headers` the header
    parameters it reads itself (a webhook's signature); `answer_headers` the headers of the success answer that
    are its point (a redirect's Location: {"Location": {"description", "schema"}}).
    """
    statuses = set(errors) | ALWAYS | ({429, 503} if public else AUTHENTICATED)
    success: dict[str, Any] = {"description": description}
    if model is not None:
        success["model"] = model
    if content is not None:
        success["content"] = content
    if answer_headers is not None:
        success["headers"] = answer_headers
    other = {code: {"model": other_model, "description": text} for code, (other_model, text) in (also or {}).items()}
    declared = {"status_code": status, "response_model": None,
                "responses": {status: success, **other, **problems(statuses)}}
    extra: dict[str, Any] = {}
    if not public:
        extra["security"] = [{BEARER: []}]
    if body is not None:
        extra["requestBody"] = body
    parameters = [*(list_parameters(_LIST_SPECS[model]) if model in _LIST_SPECS else ()), *(headers or ())]
    if parameters:
        extra["parameters"] = parameters
    if extra:
        declared["openapi_extra"] = extra
    return declared


def build_document(app: FastAPI) -> dict:
    """The document served at /v1/openapi.json (cached on the app, as FastAPI does)."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    document["components"]["securitySchemes"] = {
        BEARER: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                 "description": "An access token from /v1/auth/mfa/verify (staff) or /v1/portal/auth/verify-link"}}
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            fastapi_422 = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if fastapi_422.get("$ref", "").endswith("/HTTPValidationError"):
                del responses["422"]
    app.openapi_schema = document
    return document


DOCUMENT_URL = "/v1/openapi.json"
DOCS_URL = "/docs"
# Swagger UI's own files, from the fastapi-offline wheel (Swagger UI 5, which reads OpenAPI 3.1): /docs works on a
# machine without internet, and no page of ours loads code from a CDN.
SWAGGER_ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = DOCS_URL + "/assets"


def install(app: FastAPI) -> None:
    """The document at DOCUMENT_URL and Swagger UI at DOCS_URL, both served by the API itself."""
    app.openapi = lambda: build_document(app)
    app.mount(ASSETS_URL, StaticFiles(directory=SWAGGER_ASSETS), name="swagger-ui-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=DOCUMENT_URL, title=f"{app.title} — Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js", swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True})


# ---- the committed snapshot (docs/openapi.json) -----------------------------------------------------------------

SNAPSHOT = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


def rendered(document: dict) -> str:
    """One spelling of the document, so the snapshot's diff shows only what changed."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    """`make openapi` (python -m api.openapi): write the served document to docs/openapi.json."""
    from api.app import routed_app
    from settings import Settings

    SNAPSHOT.write_text(rendered(routed_app(Settings.model_fields["version"].default).openapi()))
    print(f"wrote {SNAPSHOT}")


if __name__ == "__main__":
    main()
