"""The mailed links opened in a real browser: headless Chromium (Debian's `chromium` package) follows the magic
link — redirect, cookie and all — and renders the invitation page. Skipped where Chromium is not installed; the
same flows are covered by posted forms in test_dev_portal.py."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from tests.operations.test_dev_portal import link_in

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")


def chromium_args(tmp_path) -> list[str]:
    # One profile per test: the cookie the magic link sets is there for the next page of the same test.
    return [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000"]


async def screenshot(url: str, tmp_path, name: str):
    await (await asyncio.create_subprocess_exec(*chromium_args(tmp_path), f"--screenshot={tmp_path / name}",
                                                "--window-size=900,1200", url, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)).wait()
    return tmp_path / name


async def rendered(url: str, tmp_path) -> str:
    """The DOM after the page loaded, as Chromium built it (following redirects, keeping cookies)."""
    args = chromium_args(tmp_path)
    process = await asyncio.create_subprocess_exec(*args, "--dump-dom", url, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.DEVNULL)
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return out.decode()


async def test_chromium_follows_the_magic_link_to_the_clients_returns_and_questions(tp, firm, admin, api_url,
                                                                                     tmp_path):
    _, ea = await tp.staff_session(firm, "ea_cpa")
    client = await tp.new_client(admin, email="browser-portal@example.com")
    tax_return = (await tp.http.post("/v1/returns", headers=admin, json={
        "client_id": client["id"], "tax_year": 2025, "return_type": "1040"})).json()["data"]
    asked = await tp.http.post(f"/v1/returns/{tax_return['id']}/questions", headers=ea,
                               json={"question_text": "Please upload your 1098 mortgage statement."})
    assert asked.status_code == 201, asked.text
    await tp.http.post("/v1/portal/auth/magic-link", json={"email": client["email"]})
    path = link_in(await tp.wait_for_mail(client["email"]), "/login?token=")

    dom = await rendered(f"{api_url}{path}", tmp_path)
    assert "Your client portal" in dom and "Your returns" in dom and "2025" in dom, dom[:2000]
    assert "Please upload your 1098 mortgage statement." in dom
    # The cookie stayed in the browser: the portal's home page shows the same client afterwards.
    assert (await screenshot(f"{api_url}/portal/", tmp_path, "portal.png")).stat().st_size > 0
    assert "Your returns" in await rendered(f"{api_url}/portal/", tmp_path)


async def test_chromium_renders_the_invitation_form(tp, admin, api_url, tmp_path):
    email = "browser-invited@firm.example.com"
    response = await tp.http.post("/v1/admin/users", headers=admin,
                                  json={"email": email, "full_name": "Bea Browser", "role": "reviewer"})
    assert response.status_code == 201, response.text
    path = link_in(await tp.wait_for_mail(email), "accept-invitation")
    dom = await rendered(f"{api_url}{path}", tmp_path)
    assert "Accept your invitation" in dom and 'type="password"' in dom
