"""The FastAPI application factory: `uvicorn api.app:create_app --factory`."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import access_log, dev_portal, observability
from api.client_address import trusted_networks
from api.middleware import (
    IdempotencyMiddleware, PathCORSMiddleware, RateLimit, RateLimiter, RateLimitMiddleware, RequestContextMiddleware,
    principal_key_from_claims,
)
from api import openapi
from api.problems import install_problem_handlers
from api.state import AppState, build_state
from domain.rate_limit import SharedCounters, SyncedCounters
from api.v1 import (
    admin, auth, client, consent, disclosure, document, efile, engagement, estimated_payment, form_8879, health,
    identity, invoice, message, pending_document, portal, question, tax_return, temporal_codec, webhook,
    webhook_endpoint,
)
from process_gc import settle_garbage_collector
from settings import Settings, get_settings

ROUTERS = [health.router, auth.router, client.router, admin.router, document.router,
           pending_document.router, webhook.router, invoice.router,
           estimated_payment.router, tax_return.router, question.router, message.router, temporal_codec.router,
           disclosure.router, efile.router, identity.router, consent.router, engagement.router, form_8879.router,
           portal.router, webhook_endpoint.router]


def _rate_limiter(settings: Settings, state: AppState) -> RateLimiter:
    return RateLimiter(
        counters=SyncedCounters(SharedCounters(state.engine)),
        standard=RateLimit(settings.rate_limit_standard, settings.rate_limit_standard_window_s),
        auth=RateLimit(settings.rate_limit_auth, settings.rate_limit_auth_window_s),
        upload=RateLimit(settings.rate_limit_upload, settings.rate_limit_upload_window_s),
        webhook=RateLimit(settings.rate_limit_webhook, settings.rate_limit_webhook_window_s),
    )


def _verified_principal(state: AppState):
    """Who a request counts as before authentication runs, for idempotency keys and rate limits: the verified
    token's subject; an unverifiable token counts as its address (the request itself is then refused with 401,
    and nothing is stored or counted against anyone else). The signer remembers tokens it verified, so this and
    authentication check a token's signature once in its lifetime (domain/auth/tokens.TokenSigner.verify)."""

    def claims_of(token: str) -> dict | None:
        try:
            return state.authenticator.signer.verify(token, "access")
        except Exception:  # any invalid token: treated as anonymous for scoping only
            return None

    def principal_of(authorization: str | None, scope) -> str:
        claims = None
        if authorization and authorization.lower().startswith("bearer "):
            claims = claims_of(authorization[7:].strip())
        return principal_key_from_claims(claims, scope)

    return principal_of


def routed_app(version: str, **kwargs) -> FastAPI:
    """The application's routes and its OpenAPI document, without the state that serves them: `make openapi`
    writes the document from this, with no stack running."""
    app = FastAPI(
        title="Tax Practice API", version=version, openapi_url=openapi.DOCUMENT_URL, docs_url=None, redoc_url=None,
        description="v1 REST API of Tax Practice. Errors are RFC 7807 application/problem+json.", **kwargs,
    )
    for router in ROUTERS:
        app.include_router(router, prefix="/v1")
    openapi.install(app)
    return app


def create_app(settings: Settings | None = None, state: AppState | None = None) -> FastAPI:
    settings = settings or get_settings()
    state = state or build_state(settings)
    access_log.install()
    observability.configure_process(settings)  # operations: logs, traces (api/observability.py)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        settle_garbage_collector()  # the app is built: keep its objects out of every later collection
        async with observability.running(settings, state):  # operations: /metrics, business gauges
            yield
        await state.read_audit.close()
        await state.engine.dispose()

    app = routed_app(settings.version, lifespan=lifespan)
    app.state.services = state
    install_problem_handlers(app)
    dev_portal.install(app, settings)  # operations: the pages behind mailed links, in development
    # Outermost last: the request context wraps everything, so even a 429 or 413 carries the request id.
    principal_of = _verified_principal(state)
    app.add_middleware(IdempotencyMiddleware, store=state.idempotency, principal_of=principal_of)
    app.add_middleware(RateLimitMiddleware, limiter=_rate_limiter(settings, state), principal_of=principal_of)
    app.add_middleware(PathCORSMiddleware, prefix=f"/v1{temporal_codec.PATH}/",
                       origins=[temporal_codec.ui_origin(settings.temporal_ui_url)])
    app.add_middleware(RequestContextMiddleware, max_body=settings.max_request_body_bytes,
                       trusted_proxies=trusted_networks(settings.trusted_proxies))
    observability.install(app, settings, state)  # operations: request metrics and log line, traces
    return app
