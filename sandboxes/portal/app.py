"""The portal protocol over HTTP (docs/portal/protocol.md), with the freedoms it leaves a portal made into knobs.

Protocol: POST /api/auth/session|refresh|logout, GET /api/accounts, POST /api/accounts/select,
GET /api/documents?folder=…, /api/documents/{id}/download, /api/organizers, /api/engagements, /api/signatures,
/api/invoices, /api/threads, /api/threads/{id}/messages, /api/tasks.

Knobs (POST /_sandbox/knobs, any subset; GET shows them):
    token_lifetime_s        access token lifetime (`expires_in`)
    max_per_page            the portal answers pages smaller than asked
    faults                  [{"status": 429|503, "path": "/api/invoices", "times": 2, "after": 0,
                              "retry_after": 1 | null, "body": "json" | "html", "delay_s": 0}]: the next matching
                              requests fail (`delay_s` after they arrive)
    switch_account_every    every N-th surface request, "another device" switches the login's current account
    drift                   {"invoices": {"kind": "missing"|"type"|"enum"|"no_items"|"extra", "field": "total"}}
    lockout_after           failed sign-ins (per login) before the portal answers 429 rate_limited
    latency_s               every protocol request waits this long first (a slow portal)
Counters: GET /_sandbox/stats (requests per path, bytes of downloaded bodies, sign-in attempts with their
outcome and code); POST /_sandbox/stats/reset. POST /_sandbox/touch {account_id, surface, item_id, changes}
changes an item; POST /_sandbox/expire-tokens makes every access token expire; POST /_sandbox/revoke-refresh
makes every refresh token unknown.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime

import pyotp
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandboxes.portal.data import FOLDERS, PortalData
from sandboxes.webhook_outbox import ThreadedServer

SURFACE_PATHS = ("/api/documents", "/api/organizers", "/api/engagements", "/api/signatures", "/api/invoices",
                 "/api/threads", "/api/tasks")
ENUM_FIELDS = {"documents": "folder", "organizers": "status", "engagements": "status", "signatures": "standard",
               "invoices": "status", "threads": "subject", "messages": "author", "tasks": "status"}


@dataclass
class Knobs:
    token_lifetime_s: int = 1800
    max_per_page: int = 100
    faults: list[dict] = field(default_factory=list)
    switch_account_every: int = 0
    drift: dict[str, dict] = field(default_factory=dict)
    lockout_after: int = 5
    latency_s: float = 0.0


@dataclass
class Session:
    email: str
    expires_at: float


class PortalState:
    def __init__(self, data: PortalData):
        self.data = data
        self.knobs = Knobs()
        self.access: dict[str, Session] = {}
        self.refresh: dict[str, str] = {}  # refresh token → email
        self.current: dict[str, str] = {}  # email → the login's current account (shared by all its devices)
        self.used_codes: dict[str, set[str]] = {}
        self.failures: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.surface_requests = 0
        self.bytes_downloaded = 0
        self.sign_ins: list[dict] = []

    def issue(self, email: str) -> dict:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.access[access] = Session(email, time.time() + self.knobs.token_lifetime_s)
        self.refresh[refresh] = email
        return {"access_token": access, "refresh_token": refresh, "expires_in": self.knobs.token_lifetime_s}


def _error(status: int, code: str, headers: dict | None = None, **extra) -> JSONResponse:
    return JSONResponse({"error": code, **extra}, status_code=status, headers=headers)


def _parse_time(raw: str) -> datetime:
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


def _drifted(item: dict, surface: str, drift: dict | None) -> dict:
    if not drift or drift.get("kind") == "no_items":
        return item
    item = dict(item)
    name = drift.get("field") or ENUM_FIELDS[surface]
    kind = drift["kind"]
    if kind == "missing":
        item.pop(name, None)
    elif kind == "type":
        value = item.get(name)
        item[name] = 12345 if isinstance(value, str) or value is None else str(value)
    elif kind == "enum":
        item[name] = "someday_new_value"
    elif kind == "extra":
        item[name] = {"a field": "this protocol does not know"}
    return item


def create_app(data: PortalData | None = None) -> FastAPI:
    app = FastAPI(title="Client portal sandbox")
    state = PortalState(data or PortalData.demo())
    app.state.portal = state

    @app.middleware("http")
    async def faults_and_counts(request: Request, call_next):
        path = request.url.path
        if not path.startswith("/_sandbox"):
            state.requests[path] += 1
            if state.knobs.latency_s:
                await asyncio.sleep(state.knobs.latency_s)
            for fault in state.knobs.faults:
                if fault.get("times", 1) <= 0 or not path.startswith(fault.get("path", "/api/")):
                    continue
                if fault.get("after", 0) > 0:
                    fault["after"] -= 1
                    continue
                fault["times"] = fault.get("times", 1) - 1
                await asyncio.sleep(fault.get("delay_s", 0))
                status = fault["status"]
                if fault.get("body") == "html":
                    return Response("<html><body>Service Unavailable</body></html>", status_code=status,
                                    media_type="text/html")
                headers = {"Retry-After": str(fault["retry_after"])} if fault.get("retry_after") is not None else None
                return _error(status, "rate_limited" if status == 429 else "unavailable", headers)
        return await call_next(request)

    # ---- 1. session -------------------------------------------------------------------------------------------

    @app.post("/api/auth/session")
    async def sign_in(body: dict):
        email = str(body.get("email", "")).lower()
        login = state.data.logins.get(email)
        otp = body.get("otp")
        attempt = {"email": email, "otp": otp, "at": time.time()}
        state.sign_ins.append(attempt)
        if state.failures[email] >= state.knobs.lockout_after:
            attempt["outcome"] = "rate_limited"
            return _error(429, "rate_limited", {"Retry-After": "300"})
        if login is None or body.get("password") != login.password:
            state.failures[email] += 1
            attempt["outcome"] = "invalid_credentials"
            return _error(401, "invalid_credentials")
        if login.totp_secret:
            if not otp:
                attempt["outcome"] = "mfa_required"
                return _error(401, "mfa_required", mfa_required="totp")
            used = state.used_codes.setdefault(email, set())
            # A code works once; the next step's code is accepted for clock drift (RFC 6238 §5.2).
            if str(otp) in used or not pyotp.TOTP(login.totp_secret).verify(str(otp), valid_window=1):
                state.failures[email] += 1
                attempt["outcome"] = "invalid_otp"
                return _error(401, "invalid_otp")
            used.add(str(otp))
        state.failures[email] = 0
        state.current.setdefault(email, login.account_ids[0])
        attempt["outcome"] = "signed_in"
        return state.issue(email)

    @app.post("/api/auth/refresh")
    async def refresh(body: dict):
        email = state.refresh.pop(str(body.get("refresh_token", "")), None)  # rotated: the old one stops working
        if email is None:
            return _error(401, "invalid_refresh_token")
        return state.issue(email)

    def session_of(request: Request) -> Session | JSONResponse:
        header = request.headers.get("authorization", "")
        session = state.access.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
        if session is None:
            return _error(401, "unauthorized")
        if session.expires_at <= time.time():
            return _error(401, "token_expired")
        return session

    @app.post("/api/auth/logout", status_code=204)
    async def logout(request: Request):
        header = request.headers.get("authorization", "").removeprefix("Bearer ")
        state.access.pop(header, None)
        return Response(status_code=204)

    # ---- 2. linked accounts ----------------------------------------------------------------------------------

    @app.get("/api/accounts")
    async def accounts(request: Request):
        session = session_of(request)
        if isinstance(session, JSONResponse):
            return session
        login = state.data.logins[session.email]
        return {"items": [state.data.accounts[a].public() for a in login.account_ids],
                "current_account_id": state.current[session.email]}

    @app.post("/api/accounts/select")
    async def select(request: Request, body: dict):
        session = session_of(request)
        if isinstance(session, JSONResponse):
            return session
        if body.get("account_id") not in state.data.logins[session.email].account_ids:
            return _error(404, "not_found")
        state.current[session.email] = body["account_id"]
        return {"current_account_id": body["account_id"]}

    def scoped(request: Request):
        """The session and the account a surface request may read, or the error the portal answers."""
        session = session_of(request)
        if isinstance(session, JSONResponse):
            return session
        email = session.email
        login = state.data.logins[email]
        state.surface_requests += 1
        every = state.knobs.switch_account_every
        if every and state.surface_requests % every == 0 and len(login.account_ids) > 1:
            ids = login.account_ids  # another device of the same login switched the current account
            state.current[email] = ids[(ids.index(state.current[email]) + 1) % len(ids)]
        wanted = request.headers.get("x-account-id")
        if wanted != state.current[email]:
            return _error(409, "account_switch", current_account_id=state.current[email])
        return state.data.accounts[wanted]

    def listing(request: Request, surface: str, items: list[dict]):
        params = request.query_params
        try:
            page = int(params.get("page", "1"))
            per_page = int(params.get("per_page", "50"))
            since = _parse_time(params["updated_since"]) if "updated_since" in params else None
        except ValueError:
            return _error(400, "invalid_parameter")
        if page < 1 or not 1 <= per_page <= 100:
            return _error(400, "invalid_parameter")
        if since is not None:
            items = [i for i in items if _parse_time(i["updated_at"]) >= since]
        size = min(per_page, state.knobs.max_per_page)
        chunk = items[(page - 1) * size: page * size]
        next_page = page + 1 if page * size < len(items) else None
        drift = state.knobs.drift.get(surface)
        chunk = [_drifted(i, surface, drift) for i in chunk]
        if drift and drift.get("kind") == "no_items":
            return {"results": chunk, "next_page": next_page}
        return {"items": chunk, "next_page": next_page}

    # ---- 4. surfaces ------------------------------------------------------------------------------------------

    @app.get("/api/documents")
    async def documents(request: Request, folder: str | None = None):
        account = scoped(request)
        if isinstance(account, JSONResponse):
            return account
        if folder not in FOLDERS:
            return _error(400, "invalid_parameter")
        return listing(request, "documents", [d for d in account.documents.values() if d["folder"] == folder])

    @app.get("/api/documents/{document_id}/download")
    async def download(request: Request, document_id: str):
        account = scoped(request)
        if isinstance(account, JSONResponse):
            return account
        item = account.documents.get(document_id)
        if item is None:
            return _error(404, "not_found")
        etag = f'"{item["sha256"]}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        content = account.contents[document_id]
        state.bytes_downloaded += len(content)
        return Response(content, media_type=item["content_type"], headers={"ETag": etag})

    for surface in ("organizers", "engagements", "signatures", "invoices", "threads", "tasks"):
        def make(surface: str):
            async def read(request: Request):
                account = scoped(request)
                if isinstance(account, JSONResponse):
                    return account
                return listing(request, surface, list(account.surface(surface).values()))
            return read
        app.add_api_route(f"/api/{surface}", make(surface), methods=["GET"])

    @app.get("/api/threads/{thread_id}/messages")
    async def messages(request: Request, thread_id: str):
        account = scoped(request)
        if isinstance(account, JSONResponse):
            return account
        if thread_id not in account.threads:
            return _error(404, "not_found")
        return listing(request, "messages", list(account.messages.get(thread_id, {}).values()))

    # ---- knobs and counters -----------------------------------------------------------------------------------

    @app.get("/_sandbox/knobs")
    async def get_knobs():
        return asdict(state.knobs)

    @app.post("/_sandbox/knobs")
    async def set_knobs(body: dict):
        for name, value in body.items():
            if not hasattr(state.knobs, name):
                return _error(400, "unknown_knob", knob=name)
            setattr(state.knobs, name, value)
        return asdict(state.knobs)

    @app.get("/_sandbox/stats")
    async def stats():
        return {"requests": dict(state.requests), "total_requests": sum(state.requests.values()),
                "bytes_downloaded": state.bytes_downloaded, "sign_ins": state.sign_ins,
                "current_accounts": state.current}

    @app.post("/_sandbox/stats/reset")
    async def reset_stats():
        state.requests.clear()
        state.bytes_downloaded = 0
        state.sign_ins.clear()
        return {"ok": True}

    @app.post("/_sandbox/touch")
    async def touch(body: dict):
        return state.data.touch(body["account_id"], body["surface"], body["item_id"], body.get("changes"))

    @app.post("/_sandbox/expire-tokens")
    async def expire_tokens():
        for session in state.access.values():
            session.expires_at = 0
        return {"ok": True}

    @app.post("/_sandbox/revoke-refresh")
    async def revoke_refresh():
        state.refresh.clear()
        return {"ok": True}

    return app


def start(data: PortalData | None = None, port: int = 0) -> ThreadedServer:
    return ThreadedServer(create_app(data), port)
