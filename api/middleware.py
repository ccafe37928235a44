"""Pure-ASGI middleware for what every request shares: request/correlation ids, the body-size cap,
rate limits (spec §3.7) and X-Idempotency-Key (spec §3.1, Stripe's semantics).

Pure ASGI rather than BaseHTTPMiddleware so streamed uploads and downloads pass through untouched.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import (
    DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_DETAIL, PROBLEM_JSON, RETRY_AFTER_S, UNEXPECTED_ERROR, log_unexpected,
    problem_bytes,
)
from api.client_address import client_address
from api.request_context import clean_correlation_id, client_ip_var, correlation_id_var, new_request_id, request_id_var
from domain.idempotency.service import IdempotencyStore, Outcome
from domain.rate_limit import SyncedCounters

log = logging.getLogger(__name__)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


async def _send_problem(send: Send, status: int, detail: str, instance: str, headers: list | None = None,
                        **kwargs) -> None:
    body = problem_bytes(status, detail, instance, **kwargs)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


# The routes that stream a file in (docs/document.md): their body cap is the document cap, enforced while reading.
UPLOAD_ROUTES = frozenset({("POST", "/v1/documents"), ("POST", "/v1/pending-documents")})


class RequestContextMiddleware:
    """Assigns the request id, echoes X-Correlation-ID, caps non-upload bodies at `max_body` bytes, and answers
    an unexpected exception with the 500 problem itself.

    Why the last: Starlette's outermost error middleware answers the 500 too, but then re-raises so the server
    logs it a second time, and uvicorn closes the keep-alive connection, failing the caller's next request on it.
    """

    def __init__(self, app: ASGIApp, max_body: int, trusted_proxies: tuple = ()):
        self.app, self.max_body, self.trusted_proxies = app, max_body, trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = new_request_id()
        correlation_id = clean_correlation_id(_header(scope, b"x-correlation-id"))
        request_id_var.set(request_id)
        correlation_id_var.set(correlation_id)
        # The caller's address for everything after this (rate limits, audit rows): behind a trusted proxy, the
        # one it forwarded for (api/client_address.py).
        client_ip_var.set(client_address(scope["client"][0] if scope.get("client") else None,
                                         _header(scope, b"x-forwarded-for"), self.trusted_proxies))
        started = False

        async def send_with_ids(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                if correlation_id:
                    headers.append((b"x-correlation-id", correlation_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self._capped(scope, receive, send_with_ids)
        except Exception as exc:
            if started:  # part of the answer is out: nothing sensible can follow it
                raise
            if isinstance(exc, DATABASE_UNAVAILABLE):  # from a middleware (idempotency, rate limits): as a route's
                log.warning("database unavailable before the route (%s)", type(exc).__name__)
                await _send_problem(send_with_ids, 503, DATABASE_UNAVAILABLE_DETAIL, scope["path"],
                                    headers=[(b"retry-after", str(RETRY_AFTER_S).encode())])
                return
            log_unexpected(exc)
            await _send_problem(send_with_ids, 500, UNEXPECTED_ERROR, scope["path"])

    async def _capped(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app, with a non-upload body read whole first and refused past `max_body` bytes."""
        # The two upload routes enforce their own, larger cap while the file streams (api/uploads.py). Exempt by
        # route, never by header: a multipart content type on any other route (a sign-in) is capped like the rest.
        if (scope.get("method"), scope["path"]) in UPLOAD_ROUTES:
            return await self.app(scope, receive, send)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            return await _send_problem(send, 413, f"Request body exceeds {self.max_body} bytes",
                                       scope["path"])
        # Read the whole (capped) body before the app sees it: a cap enforced inside `receive` would surface
        # as the framework's generic 400 "error parsing the body" instead of 413 for a body sent in chunks.
        chunks, received = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the caller left before sending the whole body
                return None
            chunks.append(message.get("body", b""))
            received += len(chunks[-1])
            if received > self.max_body:
                return await _send_problem(send, 413, f"Request body exceeds {self.max_body} bytes",
                                           scope["path"])
            if not message.get("more_body"):
                break
        body, delivered = b"".join(chunks), False

        async def replay_receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay_receive, send)


@dataclass
class RateLimit:
    limit: int
    window_s: int


@dataclass
class RateLimiter:
    """Fixed windows per (category, caller), counted for every API process together in Postgres
    (domain/rate_limit.SyncedCounters). If Postgres cannot count, this process counts alone meanwhile, and the
    request goes on: a limiter must not turn a database hiccup into refusing everyone."""

    standard: RateLimit
    auth: RateLimit
    upload: RateLimit
    webhook: RateLimit
    counters: SyncedCounters

    def category(self, method: str, path: str) -> str:
        if path.startswith(("/v1/auth/", "/v1/portal/auth/")):
            return "auth"
        if path.startswith("/v1/webhooks/"):
            return "webhook"
        if method == "POST" and path.rstrip("/") in ("/v1/documents", "/v1/pending-documents"):
            return "upload"
        return "standard"

    async def hit(self, category: str, caller: str, now: float) -> tuple[bool, RateLimit, int, int]:
        rule: RateLimit = getattr(self, category)
        window_start = int(now // rule.window_s) * rule.window_s
        bucket = f"{category}:{caller}"
        try:
            count = await self.counters.hit(bucket, window_start, rule.window_s, rule.limit)
        except DATABASE_UNAVAILABLE:
            log.warning("rate-limit counters unreachable or busy; counting in this process meanwhile")
            count = self.counters.estimate(bucket, window_start)
        return count <= rule.limit, rule, max(rule.limit - count, 0), window_start + rule.window_s


class PathCORSMiddleware:
    """CORS (Starlette's) for the routes under one path prefix only, everything else left same-origin: Temporal UI
    calls the codec endpoint from the operator's browser with its cookie (api/v1/temporal_codec.py), and no
    other route is for a browser. Outside the rate limiter, so a preflight is answered without counting."""

    def __init__(self, app: ASGIApp, prefix: str, origins: list[str]):
        self.app, self.prefix = app, prefix
        self.cors = CORSMiddleware(app, allow_origins=origins, allow_methods=["POST"], allow_credentials=True,
                                   allow_headers=["authorization", "content-type", "x-namespace"], max_age=600)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            return await self.cors(scope, receive, send)
        return await self.app(scope, receive, send)


class RateLimitMiddleware:
    """Counts each caller's requests in its category's window: a signed-in caller by the subject of its verified
    token (`principal_of`), however the header is spelled, so re-spelling `Bearer` opens no new bucket; everyone
    else, and sign-in and webhooks always, by address (client_ip_var: behind a trusted proxy, the forwarded one)."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, principal_of):
        self.app, self.limiter, self.principal_of = app, limiter, principal_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ("/v1/health", "/v1/health/ready"):
            return await self.app(scope, receive, send)
        category = self.limiter.category(scope["method"], scope["path"])
        authorization = _header(scope, b"authorization")
        if category in ("standard", "upload"):
            caller = self.principal_of(authorization, scope)
        else:
            caller = f"anonymous:{client_ip_var.get() or 'unknown'}"
        allowed, rule, remaining, reset = await self.limiter.hit(category, caller, time.time())
        headers = [(b"x-ratelimit-limit", str(rule.limit).encode()),
                   (b"x-ratelimit-remaining", str(remaining).encode()),
                   (b"x-ratelimit-reset", str(reset).encode())]
        if not allowed:
            retry_after = max(int(reset - time.time()), 1)
            return await _send_problem(send, 429, f"Rate limit of {rule.limit} requests per {rule.window_s} s "
                                       f"exceeded; retry after {retry_after} s", scope["path"],
                                       headers=headers + [(b"retry-after", str(retry_after).encode())])

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + headers}
            await send(message)

        await self.app(scope, receive, send_with_limits)


class IdempotencyMiddleware:
    """Same key + same request replays the first response; same key + another request is refused.

    Applies to JSON POSTs that carry X-Idempotency-Key. The key is scoped to the caller (`principal_of`). The
    store keeps a keyed hash of the request and the response encrypted (domain/idempotency/service.py).
    Sign-in endpoints are left out: their answers are tokens, which must never be stored in clear (refresh
    tokens are kept hashed only), and replaying one would let a single-use link or TOTP code answer twice.
    """

    def __init__(self, app: ASGIApp, store: IdempotencyStore, principal_of):
        self.app, self.store, self.principal_of = app, store, principal_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"x-idempotency-key") if scope["type"] == "http" else None
        content_type = (_header(scope, b"content-type") or "").lower()
        if (key is None or scope["method"] != "POST" or content_type.startswith("multipart/")
                or scope["path"].startswith(("/v1/auth/", "/v1/portal/auth/"))):
            return await self.app(scope, receive, send)
        if not 1 <= len(key) <= 255 or not key.isprintable():
            return await _send_problem(send, 400, "X-Idempotency-Key must be 1 to 255 printable characters",
                                       scope["path"], code="validation", title="Validation Error")
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        principal = self.principal_of(_header(scope, b"authorization"), scope)
        outcome, stored = await self.store.begin(principal, key, scope["method"], scope["path"],
                                                 scope.get("query_string", b""), body)
        if outcome is Outcome.MISMATCH:
            return await _send_problem(send, 422, "This X-Idempotency-Key was used with a different request",
                                       scope["path"], code="idempotency_key_reuse")
        if outcome is Outcome.IN_FLIGHT:
            return await _send_problem(send, 409, "A request with this X-Idempotency-Key is still in progress",
                                       scope["path"], code="idempotency_in_progress")
        if outcome is Outcome.REPLAY:
            headers = [(k.encode(), v.encode()) for k, v in stored.headers.items()]
            await send({"type": "http.response.start", "status": stored.status,
                        "headers": headers + [(b"idempotent-replayed", b"true")]})
            return await send({"type": "http.response.body", "body": stored.body})

        replayed_body = False

        async def replay_receive() -> Message:
            nonlocal replayed_body
            if not replayed_body:
                replayed_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status = 500
        response_headers: dict[str, str] = {}
        response_chunks: list[bytes] = []

        async def capture_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for k, v in message.get("headers", []):
                    name = k.decode("latin-1").lower()
                    if name in ("content-type", "location"):
                        response_headers[name] = v.decode("latin-1")
            elif message["type"] == "http.response.body":
                response_chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, capture_send)
        finally:
            await self.store.finish(principal, key, status, b"".join(response_chunks), response_headers)


def principal_key_from_claims(claims: dict | None, scope: Scope) -> str:
    if claims and claims.get("sub"):
        return f"{claims.get('firm_id', '')}:{claims['sub']}"[:100]
    return f"anonymous:{client_ip_var.get() or 'unknown'}"
