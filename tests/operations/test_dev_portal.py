"""Every mailed link opens a page: the invitation (password, then the TOTP secret as QR code and text), the
magic-link landing (returns, open questions, invoices with pay links) and the payment return page — followed
from the mails the system really sent, with the forms posted as a browser posts them."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pyotp

from api.dev_portal import TOKEN_COOKIE
from devstack.ports import accepts_connections
from sandboxes.payments import PaymentsSandbox, serve
from tests.support import PASSWORD
from tests.tax_return.conftest import poll


def link_in(mail: dict, word: str) -> str:
    [url] = [u for u in re.findall(r"https?://\S+", mail.get("text") or mail.get("body", "")) if word in u]
    parsed = urlparse(url)
    return f"{parsed.path}?{parsed.query}" if parsed.query else parsed.path


async def _mail_with(tp, address: str, text: str) -> dict | None:
    return next((m for m in reversed(await tp.mail_to(address)) if text in (m.get("text") or m.get("body", ""))),
                None)


async def test_an_invitation_link_sets_a_password_and_shows_the_totp_secret_as_qr_and_text(tp, admin):
    email = "invited-operations@firm.example.com"
    response = await tp.http.post("/v1/admin/users", headers=admin,
                                  json={"email": email, "full_name": "Ivy Invited", "role": "preparer"})
    assert response.status_code == 201, response.text
    path = link_in(await tp.wait_for_mail(email), "accept-invitation")
    form = await tp.http.get(path)
    assert form.status_code == 200 and "text/html" in form.headers["content-type"]
    token = re.search(r'name=token value="([^"]+)"', form.text).group(1)

    differ = await tp.http.post(urlparse(path).path, data={"token": token, "password": PASSWORD, "confirm": "x"})
    assert differ.status_code == 400 and "differ" in differ.text
    weak = await tp.http.post(urlparse(path).path, data={"token": token, "password": "short", "confirm": "short"})
    assert weak.status_code in (400, 422) and "12" in weak.text

    done = await tp.http.post(urlparse(path).path, data={"token": token, "password": PASSWORD, "confirm": PASSWORD})
    assert done.status_code == 200, done.text
    assert "<svg" in done.text
    secret = re.search(r"<code id=totp-secret>([A-Z2-7]+)</code>", done.text).group(1)
    login = await tp.http.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    verified = await tp.http.post("/v1/auth/mfa/verify", json={"mfa_token": login.json()["mfa_token"],
                                                                "code": pyotp.TOTP(secret).now()})
    assert verified.status_code == 200, verified.text
    assert (await tp.http.post(urlparse(path).path, data={"token": token, "password": PASSWORD,
                                                          "confirm": PASSWORD})).status_code >= 400  # used once


async def test_the_magic_link_lands_on_returns_questions_and_invoices_with_pay_links(tp, firm, admin):
    port = urlparse(tp.settings.stripe_api_base).port
    sandbox = None
    if not accepts_connections(port):
        async def deliver(payload: bytes, headers: dict[str, str]) -> int:
            return (await tp.http.post("/v1/webhooks/stripe", content=payload, headers=headers)).status_code
        sandbox = await serve(PaymentsSandbox(webhook_secrets=[tp.settings.stripe_webhook_secret], deliver=deliver),
                              port)
    try:
        preparer_id, preparer = await tp.staff_session(firm, "preparer")
        client = await tp.new_client(admin, email="portal-landing@example.com",
                                     assigned_preparer_id=str(preparer_id))
        tax_return = (await tp.http.post("/v1/returns", headers=admin, json={
            "client_id": client["id"], "tax_year": 2025, "return_type": "1040",
            "assigned_preparer_id": str(preparer_id)})).json()["data"]
        asked = await tp.http.post(f"/v1/returns/{tax_return['id']}/questions", headers=preparer,
                                   json={"question_text": "Did you sell any stock this year?"})
        assert asked.status_code == 201, asked.text
        invoice = (await tp.http.post("/v1/invoices", headers=admin, json={
            "client_id": client["id"], "line_items": [{"description": "Form 1040", "unit_price": "300.00"}]}
        )).json()["data"]
        sent = await tp.http.post(f"/v1/invoices/{invoice['id']}/send", headers=admin)
        assert sent.status_code in (200, 202), sent.text

        assert (await tp.http.post("/portal/", data={"email": client["email"]})).status_code == 200
        # The invoice's mail goes to the same address, sent by its workflow whenever it runs: find the sign-in one.
        sign_in = await poll(lambda: _mail_with(tp, client["email"], "/login?token="))
        path = link_in(sign_in, "/login?token=")
        landing = await tp.http.get(path)
        assert landing.status_code == 303 and landing.headers["location"] == "/portal/"
        cookie = landing.cookies[TOKEN_COOKIE]
        assert "httponly" in landing.headers["set-cookie"].lower()
        home = await tp.http.get("/portal/", headers={"Cookie": f"{TOKEN_COOKIE}={cookie}"})
        assert home.status_code == 200
        assert "2025" in home.text and "intake" in home.text
        assert "Did you sell any stock this year?" in home.text
        pay_links = re.findall(r"class=pay href='([^']+)'", home.text)
        assert pay_links and pay_links[0].startswith(tp.settings.stripe_api_base)

        paid_return = await tp.http.get(f"/portal/invoices/{invoice['id']}?payment=success",
                                        headers={"Cookie": f"{TOKEN_COOKIE}={cookie}"})
        assert paid_return.status_code == 200
        assert "id=outcome" in paid_return.text and invoice["invoice_number"] in paid_return.text
        cancelled = await tp.http.get(f"/portal/invoices/{invoice['id']}?payment=cancel")
        assert cancelled.status_code == 200 and "cancelled" in cancelled.text  # no cookie: the outcome still shows

        assert (await tp.http.get(path)).status_code in (400, 401)  # a link works once
    finally:
        if sandbox is not None:
            await sandbox.stop()


async def test_the_pages_are_not_in_the_openapi_document_and_are_off_outside_development(tp):
    from api.app import create_app

    paths = (await tp.http.get("/v1/openapi.json")).json()["paths"]
    assert not any(p.startswith("/portal") for p in paths)
    app = create_app(tp.settings.model_copy(update={"serve_dev_pages": False}), tp.state)
    assert not any(getattr(r, "path", "").startswith("/portal") for r in app.routes)
