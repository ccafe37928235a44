"""Temporal UI decodes sealed payloads through the codec endpoint from the operator's browser (issue 13): CORS for
the UI's origin on the codec routes only, and a codec cookie (from a one-minute browser-session link) that the UI
sends with "include credentials", accepted from the UI's origin only, ending with the sign-in."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

import httpx

from api.app import create_app
from api.v1.temporal_codec import COOKIE, ui_origin

PAYLOADS = {"payloads": [{"metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                          "data": base64.b64encode(b'{"note": "sealed"}').decode()}]}
CODEC = "/v1/admin/temporal-codec"


def _browser(tp) -> httpx.AsyncClient:
    """A browser of its own (its own cookie jar) on the same API."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(tp.settings, tp.state)),
                             base_url="http://testserver")


async def _codec_cookie(tp, browser: httpx.AsyncClient, headers: dict) -> str:
    created = await tp.http.post(f"{CODEC}/browser-sessions", headers=headers)
    assert created.status_code == 201, created.text
    link = urlsplit(created.json()["data"]["open_url"])
    opened = await browser.get(f"{link.path}?{link.query}")
    assert opened.status_code == 303 and opened.headers["location"] == tp.settings.temporal_ui_url
    cookie = opened.headers["set-cookie"]
    assert "HttpOnly" in cookie and f"Path={CODEC}" in cookie and "samesite=lax" in cookie.lower()
    return browser.cookies[COOKIE]


async def test_temporal_ui_decodes_from_the_browser_with_the_codec_cookie(tp):
    firm = await tp.new_firm()
    _, admin = await tp.staff_session(firm, "admin")
    ui = ui_origin(tp.settings.temporal_ui_url)
    sealed = (await tp.http.post(f"{CODEC}/encode", json=PAYLOADS, headers=admin)).json()
    async with _browser(tp) as browser:
        await _codec_cookie(tp, browser, admin)
        preflight = await browser.options(f"{CODEC}/decode", headers={
            "Origin": ui, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ui
        assert preflight.headers["access-control-allow-credentials"] == "true"

        decoded = await browser.post(f"{CODEC}/decode", json=sealed, headers={"Origin": ui, "X-Namespace": "default"})
        assert decoded.status_code == 200, decoded.text
        assert decoded.json() == PAYLOADS
        assert decoded.headers["access-control-allow-origin"] == ui

        # Another page in the same browser: no CORS grant, and the cookie is refused from its origin.
        evil = "https://evil.example.com"
        assert (await browser.options(f"{CODEC}/decode", headers={
            "Origin": evil, "Access-Control-Request-Method": "POST"})).status_code == 400
        refused = await browser.post(f"{CODEC}/decode", json=sealed, headers={"Origin": evil})
        assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
        assert (await browser.post(f"{CODEC}/decode", json=sealed)).status_code == 403  # no Origin at all
        # CORS covers the codec routes only.
        other = await browser.options("/v1/clients", headers={"Origin": ui, "Access-Control-Request-Method": "GET"})
        assert "access-control-allow-origin" not in other.headers

        # The codec token is good for the codec endpoint only, and ends with the sign-in.
        token = browser.cookies[COOKIE]
        assert (await tp.http.get("/v1/clients", headers={"Authorization": f"Bearer {token}"})).status_code == 401
        assert (await tp.http.post("/v1/auth/logout", headers=admin)).status_code == 204
        assert (await browser.post(f"{CODEC}/decode", json=sealed, headers={"Origin": ui})).status_code == 401


async def test_a_browser_session_is_for_admins_and_ea_cpas_and_its_ticket_is_nothing_else(tp):
    firm = await tp.new_firm()
    _, preparer = await tp.staff_session(firm, "preparer")
    assert (await tp.http.post(f"{CODEC}/browser-sessions", headers=preparer)).status_code == 403
    assert (await tp.http.post(f"{CODEC}/browser-sessions")).status_code == 401
    _, ea_cpa = await tp.staff_session(firm, "ea_cpa")
    ticket = (await tp.http.post(f"{CODEC}/browser-sessions", headers=ea_cpa)).json()["data"]["open_url"] \
        .split("ticket=")[1]
    assert (await tp.http.get("/v1/clients", headers={"Authorization": f"Bearer {ticket}"})).status_code == 401
    async with _browser(tp) as browser:
        assert (await browser.get(f"{CODEC}/browser-session", params={"ticket": "not-a-ticket"})).status_code == 401
        assert COOKIE not in browser.cookies
