"""A TaxDome-style client portal over its protocol (docs/portal/protocol.md): the session with its TOTP second
factor and rotating refresh tokens, linked accounts and the 409 account-switch dance, paging by `next_page`,
429/503 handling, conditional downloads, and every answer checked by the strict models of portal_models.py.

The same code talks to a real portal and to sandboxes/portal/ (a connection names the portal's base URL).
Failures leave as the provider errors (integrations/providers.py): `ProviderUnavailable` when the portal stays
unavailable or rate-limited past the retries here (Temporal retries the activity later, which resumes from its
cursor), `ProviderRejected` for a "no" — and its two kinds the connector reports by name: `PortalSignInRefused`
(wrong password, wrong or replayed code, a locked login: never retried, so a login never loops) and
`PortalDrift` (an answer that does not match the protocol: that surface stops, naming surface and field).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import BinaryIO

import httpx
import pyotp
from pydantic import ValidationError

from integrations import portal_models as pm
from integrations.providers import ProviderRejected, ProviderUnavailable

KIND = "client_portal"
TOTP_STEP_S = 30
MAX_ACCOUNT_SWITCHES = 5  # per request: a portal (or a second device) that switches back every time is an outage
REFRESH_MARGIN_S = 60.0  # refresh this long before the access token expires (or at a fifth of a short lifetime)


class PortalSignInRefused(ProviderRejected):
    """The portal refused the credentials or the second factor. `code`: invalid_credentials, invalid_otp,
    mfa_required (a second factor the connection has no secret for), rate_limited (the login is locked)."""

    def __init__(self, code: str):
        super().__init__(KIND, f"portal sign-in refused: {code}")
        self.code = code


class PortalDrift(ProviderRejected):
    """An answer that does not match the protocol: the surface it came from stops, naming the field."""

    def __init__(self, surface: str, field_name: str, problem: str):
        super().__init__(KIND, f"portal drift on {surface}: field '{field_name}' {problem}")
        self.surface, self.field, self.problem = surface, field_name, problem


@dataclass
class SessionTokens:
    access_token: str
    refresh_token: str
    expires_at: float  # epoch seconds
    lifetime_s: int


@dataclass
class SessionState:
    """What must outlive one client object: the tokens (so each activity of a sync does not sign in again) and
    the last TOTP step used (so no code is ever sent twice, across processes). Stored encrypted by the caller."""

    tokens: SessionTokens | None = None
    otp_last_step: int = -1


@dataclass(frozen=True)
class Downloaded:
    not_modified: bool
    size: int = 0
    sha256: str | None = None
    etag: str | None = None


@dataclass
class Retries:
    """How long to wait on 429 without Retry-After and on 503 (exponential from `base_s`, capped), and how often."""

    base_s: float = 1.0
    cap_s: float = 60.0
    attempts: int = 6
    max_retry_after_s: float = 300.0

    def backoff(self, attempt: int) -> float:
        return min(self.cap_s, self.base_s * 2 ** attempt)


@dataclass
class PortalClient:
    base_url: str
    email: str
    password: str
    totp_secret: str | None
    device_id: str
    state: SessionState = field(default_factory=SessionState)
    # Called with the state whenever it changed (new tokens, a TOTP step used): the caller persists it.
    on_state: Callable[[SessionState], Awaitable[None]] | None = None
    # Called before every request: raises to stop (a revoked consent, a paused connection).
    before_request: Callable[[], Awaitable[None]] | None = None
    retries: Retries = field(default_factory=Retries)
    concurrency: int = 8
    timeout_s: float = 60.0
    requests_made: int = 0
    _http: httpx.AsyncClient | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    # ---- lifecycle -------------------------------------------------------------------------------------------

    async def __aenter__(self) -> "PortalClient":
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        self._http = httpx.AsyncClient(base_url=self.base_url.rstrip("/"), timeout=self.timeout_s, limits=limits,
                                       verify=_tls_context())
        return self

    async def __aexit__(self, *exc) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def logout(self) -> None:
        if self.state.tokens is not None:
            await self._send("POST", "/api/auth/logout", None,
                             headers={"Authorization": f"Bearer {self.state.tokens.access_token}"})
            self.state.tokens = None
            await self._changed()

    # ---- 1. session ------------------------------------------------------------------------------------------

    async def sign_in(self) -> None:
        """Credentials and the TOTP code of a step not used before, in one request. On `invalid_otp` one more try
        with the next step's code (a code sent at the end of its step may reach the portal in the next one),
        then the refusal is final: never the same code twice, never two tries in one step, never a loop."""
        for attempt in range(2):
            body = {"email": self.email, "password": self.password, "device_id": self.device_id}
            if self.totp_secret:
                body["otp"] = await self._fresh_code()
            response = await self._send("POST", "/api/auth/session", body)
            if response.status_code == 200:
                await self._take_tokens(response)
                return
            code = _error_code(response)
            if response.status_code == 429:
                raise PortalSignInRefused("rate_limited")
            if response.status_code >= 500:
                raise ProviderUnavailable(KIND, f"portal sign-in: HTTP {response.status_code}")
            if code == "invalid_otp" and attempt == 0 and self.totp_secret:
                continue
            raise PortalSignInRefused(code or f"http_{response.status_code}")
        raise PortalSignInRefused("invalid_otp")

    async def _fresh_code(self) -> str:
        """The current step's code, waiting for the next step when this one's code was used already."""
        step = int(time.time() // TOTP_STEP_S)
        if step <= self.state.otp_last_step:
            step = self.state.otp_last_step + 1
            await asyncio.sleep(max(0.0, step * TOTP_STEP_S - time.time()) + 0.05)
        self.state.otp_last_step = step
        await self._changed()  # persisted before the code is sent: a crash after sending never reuses it
        return pyotp.TOTP(self.totp_secret).generate_otp(step)

    async def _refresh(self) -> None:
        """Rotate the token pair; a refused refresh token means a fresh sign-in (and the second factor)."""
        tokens = self.state.tokens
        if tokens is None:
            return await self.sign_in()
        response = await self._send("POST", "/api/auth/refresh", {"refresh_token": tokens.refresh_token})
        if response.status_code == 200:
            return await self._take_tokens(response)
        if response.status_code == 401:
            self.state.tokens = None
            return await self.sign_in()
        raise ProviderUnavailable(KIND, f"portal token refresh: HTTP {response.status_code}")

    async def _take_tokens(self, response: httpx.Response) -> None:
        tokens = _parse(pm.Tokens, response, "session")
        self.state.tokens = SessionTokens(tokens.access_token, tokens.refresh_token,
                                          time.time() + tokens.expires_in, tokens.expires_in)
        await self._changed()

    async def _session(self, stale_access: str | None = None) -> str:
        """A live access token, refreshed ahead of expiry. `stale_access`: the portal refused this one."""
        async with self._lock:  # one refresh for all concurrent requests: the old refresh token dies with it
            tokens = self.state.tokens
            if tokens is None:
                await self.sign_in()
            elif tokens.access_token == stale_access or \
                    tokens.expires_at - time.time() < min(REFRESH_MARGIN_S, tokens.lifetime_s / 5):
                await self._refresh()
            return self.state.tokens.access_token

    async def _changed(self) -> None:
        if self.on_state is not None:
            await self.on_state(self.state)

    # ---- 2. linked accounts ----------------------------------------------------------------------------------

    async def accounts(self) -> pm.Accounts:
        return _parse(pm.Accounts, await self._call("GET", "/api/accounts"), "accounts")

    # ---- 3. paging and 4. surfaces ---------------------------------------------------------------------------

    async def pages(self, surface: str, account_id: str, *, folder: str | None = None, thread_id: str | None = None,
                    updated_since: str | None = None, start_page: int = 1,
                    per_page: int = 100) -> AsyncIterator[tuple[int, pm.Page]]:
        """(page number, page) of one list, from `start_page`, following `next_page` only: a portal may answer
        fewer items than asked, so the page size never predicts the next page."""
        path = {"documents": "/api/documents", "messages": f"/api/threads/{thread_id}/messages",
                "threads": "/api/threads"}.get(surface, f"/api/{surface}")
        model = pm.Page[pm.Thread] if surface == "threads" else pm.Page[pm.SURFACE_ITEMS[surface]]
        page: int | None = start_page
        while page is not None:
            params = {"page": page, "per_page": per_page}
            if folder:
                params["folder"] = folder
            if updated_since:
                params["updated_since"] = updated_since
            response = await self._call("GET", path, params=params, account_id=account_id)
            parsed = _parse(model, response, "messages" if surface == "threads" else surface)
            yield page, parsed
            if parsed.next_page is not None and parsed.next_page <= page:
                raise PortalDrift(surface, "next_page", f"goes back from page {page} to {parsed.next_page}")
            page = parsed.next_page

    async def download(self, account_id: str, document_id: str, sink: BinaryIO,
                       etag: str | None = None) -> Downloaded:
        """The document's bytes into `sink`, or nothing when its ETag is still `etag` (304)."""
        headers = {"If-None-Match": etag} if etag else {}
        response = await self._call("GET", f"/api/documents/{document_id}/download", account_id=account_id,
                                    headers=headers, stream=True)
        try:
            if response.status_code == 304:
                return Downloaded(not_modified=True, etag=response.headers.get("etag", etag))
            digest, size = hashlib.sha256(), 0
            async for chunk in response.aiter_bytes(1 << 16):
                digest.update(chunk)
                sink.write(chunk)
                size += len(chunk)
            return Downloaded(False, size, digest.hexdigest(), response.headers.get("etag"))
        except httpx.TransportError as exc:  # the portal dropped the connection mid-body
            raise ProviderUnavailable(KIND, f"download of {document_id} interrupted: {exc}") from exc
        finally:
            await response.aclose()

    # ---- the request loop --------------------------------------------------------------------------------------

    async def _call(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None,
                    account_id: str | None = None, headers: dict | None = None,
                    stream: bool = False) -> httpx.Response:
        """One protocol request with everything §1–§3 allow a portal to answer in between: an expired token
        (refresh, twice at most), an account switch (select and repeat), 429 (Retry-After, or backoff without
        it), 503 and a dropped connection (backoff). Other 4xx are not retried."""
        switches = renewals = busy = 0
        stale: str | None = None
        while True:
            access = await self._session(stale)
            request_headers = {"Authorization": f"Bearer {access}", **(headers or {})}
            if account_id is not None:
                request_headers["X-Account-Id"] = account_id
            try:
                response = await self._send(method, path, body, params=params, headers=request_headers,
                                            stream=stream)
            except ProviderUnavailable:
                if busy >= self.retries.attempts:
                    raise
                await asyncio.sleep(self.retries.backoff(busy))
                busy += 1
                continue
            status = response.status_code
            if status < 400 or status == 304:
                return response
            if stream:
                await response.aread()
                await response.aclose()
            code = _error_code(response)
            if status == 401 and code in ("token_expired", "unauthorized") and renewals < 2:
                renewals, stale = renewals + 1, access
                continue
            if status == 409 and code == "account_switch" and account_id is not None:
                if switches >= MAX_ACCOUNT_SWITCHES:
                    raise ProviderUnavailable(KIND, f"the portal kept switching away from account {account_id}")
                switches += 1
                await self._call("POST", "/api/accounts/select", body={"account_id": account_id})
                continue
            if status == 429 or status >= 500:
                if busy >= self.retries.attempts:
                    raise ProviderUnavailable(KIND, f"{path}: HTTP {status} after {busy} retries")
                await asyncio.sleep(self._wait(response, busy))
                busy += 1
                continue
            if status == 401:
                raise PortalSignInRefused(code or "unauthorized")
            raise ProviderRejected(KIND, f"{method} {path}: HTTP {status} {code or ''}".strip())

    def _wait(self, response: httpx.Response, attempt: int) -> float:
        if response.status_code == 429:
            raw = response.headers.get("retry-after")
            if raw is not None and raw.strip().isdigit():
                return min(float(raw), self.retries.max_retry_after_s)
        return self.retries.backoff(attempt)

    async def _send(self, method: str, path: str, body: dict | None, *, params: dict | None = None,
                    headers: dict | None = None, stream: bool = False) -> httpx.Response:
        if self.before_request is not None:
            await self.before_request()
        self.requests_made += 1
        try:
            request = self._http.build_request(method, path, json=body, params=params, headers=headers)
            return await self._http.send(request, stream=stream)
        except httpx.TransportError as exc:
            raise ProviderUnavailable(KIND, f"{method} {path}: {type(exc).__name__}") from exc


@dataclass(frozen=True)
class PortalConnector:
    """The `ClientPortal` provider: a PortalClient per connection, with the worker's retry and concurrency."""

    retries: Retries = field(default_factory=Retries)
    concurrency: int = 8

    def open(self, *, base_url: str, email: str, password: str, totp_secret: str | None, device_id: str,
             state: SessionState, on_state=None, before_request=None) -> PortalClient:
        return PortalClient(base_url, email, password, totp_secret, device_id, state=state, on_state=on_state,
                            before_request=before_request, retries=self.retries, concurrency=self.concurrency)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one loads the CA bundle (~20 ms of CPU), and every pull
    of every sync opens its own client."""
    return httpx.create_ssl_context()  # httpx's own default: certifi's bundle, or SSL_CERT_FILE when set


def _error_code(response: httpx.Response) -> str | None:
    """The protocol's `error` code, or None for a body that is not JSON (a 503 from a proxy answers HTML)."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body.get("error") if isinstance(body, dict) else None


def _parse(model, response: httpx.Response, surface: str):
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first["loc"]) or "body"
        raise PortalDrift(surface, _field_name(first["loc"]), f"{first['msg']} (at {location})") from None


def _field_name(loc: tuple) -> str:
    """The field's name without list positions or the union branch pydantic adds: 'line_items.unit_price'."""
    names = [str(part) for part in loc if not isinstance(part, int)]
    return ".".join(names[1:] if names and names[0] == "items" and len(names) > 1 else names) or "items"
