"""The codec endpoint for Temporal UI and the CLI (issue 13): payloads in Temporal are sealed
(orchestration/payload_codec.py), so operators read them through this endpoint, open to signed-in admins and
EA/CPAs only, every use audited. Temporal's remote codec protocol: `POST …/decode` (and `…/encode`) with
`{"payloads": [...]}`. From the CLI: `temporal workflow show -w tax-return:<id> --codec-endpoint
http://<api>/v1/admin/temporal-codec --codec-auth "Bearer <token>"`.

From Temporal UI, which calls the endpoint from the operator's browser (docs/security.md): the UI cannot send one
of our bearer tokens, but it can send cookies (its codec setting "include credentials"). So an operator asks for
a browser session (`POST …/browser-sessions`, with their bearer token), opens the one-minute link it answers in
that browser, and gets a codec token in a cookie that only this endpoint receives (Path, HttpOnly), for as long
as an access token lives and their sign-in does. A call authenticated by that cookie must come from the UI's
origin (TEMPORAL_UI_URL): another page in the browser cannot use it. CORS for that origin covers these routes
only (api/middleware.PathCORSMiddleware).
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.convertors import Convertor, register_url_convertor

from api.deps import Session, State, bearer_token, service_context
from api.json_route import JSONRoute
from api.openapi import One, ReadModel, answers
from api.request_context import meta
from domain import policy
from domain.auth.tokens import CODEC
from domain.context import ServiceContext
from domain.errors import FieldError, Forbidden, Unauthorized, ValidationFailed
from orchestration.connect import payload_codec
from orchestration.payload_codec import codec_server

PATH = "/admin/temporal-codec"
router = APIRouter(route_class=JSONRoute, prefix=PATH, tags=["admin"])
COOKIE = "taxpractice_codec"


def ui_origin(temporal_ui_url: str) -> str:
    """The origin the browser sends for Temporal UI's pages: scheme://host[:port]."""
    parts = urlsplit(temporal_ui_url)
    return f"{parts.scheme}://{parts.netloc}"


async def _codec_context(request: Request, state: State, session: Session) -> ServiceContext:
    """A bearer access token (the CLI), or the codec cookie from Temporal UI's own origin (a browser)."""
    if request.headers.get("authorization"):
        principal = await state.authenticator.authenticate(session, bearer_token(request))
    elif token := request.cookies.get(COOKIE):
        if request.headers.get("origin") != ui_origin(state.settings.temporal_ui_url):
            raise Forbidden("The codec cookie is accepted from Temporal UI's origin only")
        principal = await state.authenticator.authenticate(session, token, CODEC)
    else:
        raise Unauthorized("Missing bearer token")
    return service_context(session, principal, state)


CodecCtx = Annotated[ServiceContext, Depends(_codec_context)]


class BrowserSession(ReadModel):
    open_url: str = Field(description="open it, within expires_in seconds, in the browser that runs Temporal UI")
    expires_in: int


@router.post("/browser-sessions", operation_id="create_temporal_codec_browser_session",
             summary="A link that lets Temporal UI in this browser decode payloads (admin, EA/CPA)",
             **answers(One(BrowserSession), 403, status=201))
async def create_browser_session(ctx: CodecCtx, state: State):
    policy.require(ctx.principal, "admin.temporal_codec")
    ticket, lifetime = state.authenticator.codec_ticket(ctx.principal)
    # The ticket travels as a query parameter: the access log records no query string (api/access_log.py).
    url = f"{state.settings.api_base_url.rstrip('/')}/v1{PATH}/browser-session?ticket={ticket}"
    return {"data": {"open_url": url, "expires_in": lifetime}, "meta": meta()}


@router.get("/browser-session", response_class=RedirectResponse, operation_id="open_temporal_codec_browser_session",
            summary="Set the codec cookie from a browser-session link and go to Temporal UI",
            **answers(None, 401, 403, status=303, public=True, description="To Temporal UI, with the codec cookie set",
                      answer_headers={
                          "Location": {"description": "Temporal UI (TEMPORAL_UI_URL)",
                                       "schema": {"type": "string", "format": "uri"}},
                          "Set-Cookie": {"description": f"`{COOKIE}`: the codec token, HttpOnly, for this path only",
                                         "schema": {"type": "string"}}}))
async def open_browser_session(session: Session, state: State, ticket: str = Query(min_length=1, max_length=4096)):
    principal, token, lifetime = await state.authenticator.codec_token(session, ticket)
    policy.require(principal, "admin.temporal_codec")
    await service_context(session, principal, state).audit("temporal.codec_browser_session", "temporal_payload")
    secure = state.settings.api_base_url.startswith("https://")
    response = RedirectResponse(state.settings.temporal_ui_url, status_code=303)
    # SameSite=None lets the UI on another site send it (it needs Secure); over plain HTTP (development, the UI
    # and the API on one host) Lax, which a same-site fetch sends too.
    response.set_cookie(COOKIE, token, max_age=lifetime, path=f"/v1{PATH}", httponly=True, secure=secure,
                        samesite="none" if secure else "lax")
    return response


CODEC_BODY = {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Payloads"}}}}


Base64 = Annotated[str, Field(pattern=r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
                              description="base64")]


class Payload(BaseModel):
    """A Temporal payload in its JSON form (proto3 JSON: bytes as padded base64, as Temporal's clients send)."""

    model_config = ConfigDict(extra="forbid")

    metadata: dict[str, Base64] = Field(default_factory=dict)
    data: Base64 = ""


class Payloads(BaseModel):
    """Temporal's remote codec protocol body, in and out."""

    payloads: list[Payload] | None = Field(None, description="null or absent: no payloads")


class CodecOperation(Convertor):
    """`decode` or `encode` only: `/{operation}` must not also match `…/browser-session` (another method on that
    path is a 405, not a codec call refused for its token)."""

    regex = "decode|encode"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("codec_operation", CodecOperation())


@router.post("/{operation:codec_operation}", summary="Decode or encode Temporal payloads (admin, EA/CPA)",
             operation_id="temporal_codec", **answers(Payloads, 403, 404, body=CODEC_BODY))
async def temporal_codec(operation: Literal["decode", "encode"], request: Request, ctx: CodecCtx, state: State):
    """Temporal's remote codec protocol: `{"payloads": [{"metadata": {…}, "data": "…"}]}` in and out."""
    policy.require(ctx.principal, "admin.temporal_codec")
    try:
        body = await request.json()
        # The documented shape, checked first: protobuf's parser would read any string as base64, somehow.
        Payloads.model_validate(body)
        answer = await codec_server(payload_codec(state.settings), operation, body)
    except ValueError as exc:  # includes a body that is not JSON, and pydantic's ValidationError
        raise ValidationFailed(errors=[FieldError("payloads", "invalid_format", str(exc)[:200])]) from None
    await ctx.audit(f"temporal.payloads_{operation}d", "temporal_payload",
                    details={"count": len(answer.get("payloads", [])),
                             "namespace": request.headers.get("x-namespace")})
    return answer
