"""The pages behind every link the system mails, served by the API itself in development (docs/operations.md):
accept an invitation (set a password, enrol TOTP from a QR code), the magic-link landing (the client's returns,
open questions and invoices with their pay links), and the page the payment sandbox returns to.

In production PORTAL_BASE_URL names the firm's own front end and these pages are off (SERVE_DEV_PAGES). They are
a client of the v1 API like any front end — each page calls the API in process, over the app's own ASGI
interface — so they show exactly what the API answers and hold no rule of their own. Not in the OpenAPI document.

The client's token from the magic link is kept in an HttpOnly, SameSite=Strict cookie scoped to the portal path,
so the payment return page can show the invoice's state; it is never put in a page or a URL.
"""

from __future__ import annotations

import html
from urllib.parse import urlparse

import httpx
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from settings import Settings

TOKEN_COOKIE = "taxpractice_portal_token"
STYLE = ("body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1d2a35}"
         "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #dde;padding:.4rem;text-align:left}"
         ".note{background:#f3f6fa;padding:.6rem 1rem;border-radius:6px}.bad{color:#a11}.ok{color:#175}"
         "input{padding:.4rem;margin:.2rem 0;width:20rem}button{padding:.4rem 1rem}")


def portal_path(settings: Settings) -> str:
    return urlparse(settings.portal_base_url).path.rstrip("/") or "/portal"


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)} — "
                        f"Tax Practice</title><meta name=viewport content='width=device-width'><style>{STYLE}</style>"
                        f"</head><body><h1>{html.escape(title)}</h1>{body}<hr><p class=note>Development pages of "
                        f"Tax Practice, served by the API under PORTAL_BASE_URL.</p></body></html>", status_code=status)


def api(request: Request, token: str | None = None) -> httpx.AsyncClient:
    """The v1 API of this very app, in process."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=request.app), base_url="http://portal.internal",
                             headers=headers)


def problem_text(response: httpx.Response) -> str:
    try:
        body = response.json()
        return body.get("detail", "") + "".join(f" {e['field']}: {e['message']}." for e in body.get("errors", []))
    except ValueError:
        return f"HTTP {response.status_code}"


def e(value) -> str:
    return html.escape("" if value is None else str(value))


def build_router(settings: Settings) -> APIRouter:
    base = portal_path(settings)
    router = APIRouter(prefix=base, include_in_schema=False)

    def with_token(response: HTMLResponse | RedirectResponse, token: str) -> HTMLResponse | RedirectResponse:
        response.set_cookie(TOKEN_COOKIE, token, max_age=settings.client_access_token_minutes * 60, path=base,
                            httponly=True, samesite="strict", secure=not settings.is_development)
        return response

    @router.get("/accept-invitation")
    async def invitation_form(token: str = ""):
        if not token:
            return page("Accept your invitation", "<p class=bad>This link has no token.</p>", 400)
        return page("Accept your invitation", f"""
<p>Choose a password (at least 12 characters). Next you will enrol two-factor authentication.</p>
<form method=post action="{e(base)}/accept-invitation"><input type=hidden name=token value="{e(token)}">
<label>Password<br><input type=password name=password autocomplete=new-password required minlength=12></label><br>
<label>Again<br><input type=password name=confirm autocomplete=new-password required></label><br>
<button type=submit>Set password</button></form>""")

    @router.post("/accept-invitation")
    async def accept_invitation(request: Request, token: str = Form(""), password: str = Form(""),
                                confirm: str = Form("")):
        import segno

        if password != confirm:
            return page("Accept your invitation", "<p class=bad>The two passwords differ.</p>"
                        f"<p><a href='{e(base)}/accept-invitation?token={e(token)}'>Try again</a></p>", 400)
        async with api(request) as client:
            response = await client.post("/v1/auth/invitations/accept", json={"token": token, "password": password})
        if response.status_code != 200:
            return page("Accept your invitation", f"<p class=bad>{e(problem_text(response))}</p>",
                        response.status_code)
        user = response.json()["data"]
        qr = segno.make(user["otpauth_uri"], error="m").svg_inline(scale=5)
        return page("Enrol two-factor authentication", f"""
<p class=ok>Password set for {e(user['email'])}.</p>
<p>Scan this code with an authenticator app, or type the secret. It is shown only now.</p>
<div id=qr>{qr}</div><p>Secret: <code id=totp-secret>{e(user['totp_secret'])}</code></p>
<p>Then sign in: <code>taxpractice login --email {e(user['email'])}</code> or <code>POST /v1/auth/login</code>.</p>""")

    @router.get("/login")
    async def magic_link(request: Request, token: str = ""):
        async with api(request) as client:
            response = await client.post("/v1/portal/auth/verify-link", json={"token": token})
        if response.status_code != 200:
            return page("Sign in", f"<p class=bad>{e(problem_text(response))}</p>"
                        f"<p><a href='{e(base)}/'>Ask for a new link</a></p>", response.status_code)
        return with_token(RedirectResponse(f"{base}/", status_code=303), response.json()["access_token"])

    @router.get("/")
    async def home(request: Request):
        token = request.cookies.get(TOKEN_COOKIE)
        if token:
            async with api(request, token) as client:
                returns = await client.get("/v1/returns", params={"limit": 50})
                if returns.status_code == 200:
                    return page("Your client portal", await _dashboard(client, returns.json()["data"]))
        return page("Your client portal", f"""
<p>Enter your email and we will send you a sign-in link.</p>
<form method=post action="{e(base)}/"><label>Email<br><input type=email name=email required></label><br>
<button type=submit>Send me a link</button></form>""")

    @router.post("/")
    async def request_link(request: Request, email: str = Form("")):
        async with api(request) as client:
            response = await client.post("/v1/portal/auth/magic-link", json={"email": email})
        if response.status_code != 200:
            return page("Your client portal", f"<p class=bad>{e(problem_text(response))}</p>", response.status_code)
        return page("Your client portal", f"<p class=ok>{e(response.json()['message'])}</p>")

    @router.get("/invoices/{invoice_id}")
    async def invoice_page(request: Request, invoice_id: str, payment: str = ""):
        outcome = {"success": "<p class=ok id=outcome>Thank you: your payment went through. The receipt follows "
                              "by mail once the payment is confirmed.</p>",
                   "cancel": "<p class=bad id=outcome>The payment was cancelled; nothing was charged.</p>"}.get(
            payment, "")
        token = request.cookies.get(TOKEN_COOKIE)
        if not token:
            return page("Your invoice", outcome + f"<p>Sign in to see the invoice: <a href='{e(base)}/'>"
                        "ask for a link</a>.</p>")
        async with api(request, token) as client:
            response = await client.get(f"/v1/invoices/{invoice_id}")
        if response.status_code != 200:
            return page("Your invoice", outcome + f"<p class=bad>{e(problem_text(response))}</p>",
                        response.status_code)
        return page("Your invoice", outcome + _invoice_table([response.json()["data"]]))

    return router


async def _dashboard(client: httpx.AsyncClient, returns: list[dict]) -> str:
    rows = "".join(f"<tr><td>{e(r.get('tax_year'))}</td><td>{e(r.get('return_type'))}</td>"
                   f"<td>{e(r.get('status'))}</td><td>{e(r.get('due_date'))}</td></tr>" for r in returns)
    parts = ["<h2>Your returns</h2><table id=returns><tr><th>Year</th><th>Form</th><th>Status</th><th>Due</th></tr>"
             f"{rows or '<tr><td colspan=4>None yet.</td></tr>'}</table>"]
    questions = []
    for tax_return in returns:
        answer = await client.get(f"/v1/returns/{tax_return['id']}/questions", params={"status": "pending"})
        if answer.status_code == 200:
            questions += answer.json()["data"]
    items = "".join(f"<li>{e(q.get('question_text'))}</li>" for q in questions)
    parts.append(f"<h2>Open questions</h2><ul id=questions>{items or '<li>None.</li>'}</ul>")
    invoices = await client.get("/v1/invoices", params={"limit": 50})
    parts.append("<h2>Invoices</h2>" + _invoice_table(invoices.json()["data"] if invoices.status_code == 200 else []))
    return "".join(parts)


def _invoice_table(invoices: list[dict]) -> str:
    rows = "".join(
        f"<tr><td>{e(i.get('invoice_number'))}</td><td>{e(i.get('total_amount'))}</td><td>{e(i.get('status'))}</td>"
        f"<td>{e(i.get('due_date'))}</td><td>"
        + (f"<a class=pay href='{e(i['payment_link'])}'>Pay</a>" if i.get("payment_link")
           and i.get("status") not in ("paid", "void") else "")
        + "</td></tr>" for i in invoices)
    return ("<table id=invoices><tr><th>Invoice</th><th>Amount</th><th>Status</th><th>Due</th><th></th></tr>"
            f"{rows or '<tr><td colspan=5>None.</td></tr>'}</table>")


def install(app: FastAPI, settings: Settings) -> None:
    """On when SERVE_DEV_PAGES says so, else in development and tests only."""
    enabled = settings.serve_dev_pages if settings.serve_dev_pages is not None else settings.is_development
    if enabled:
        app.include_router(build_router(settings))
