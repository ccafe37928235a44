"""The signing page in a real browser: headless Chromium from Debian's packages (/usr/bin/chromium), driven by
Playwright (its driver only: no browser is downloaded). Skipped where that Chromium is not installed; the same
page is completed with plain form posts in every other signing test."""

from __future__ import annotations

import shutil

import pytest

from tests.esign.conftest import deliver_signature_events, signing_link

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As the machine notes say: no sandbox as root, and nothing that reaches for the network on its own.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed")


async def test_a_client_signs_in_chromium(tp, office):
    playwright_api = pytest.importorskip("playwright.async_api")
    engagement = (await tp.http.post("/v1/engagements", headers=office.admin, json={
        "client_id": office.client["id"], "tax_year": 2022, "engagement_type": "tax_prep", "services": ["1040"],
        "fee_structure": {"type": "fixed", "base_fee": 250}})).json()["data"]
    assert (await tp.http.post(f"/v1/engagements/{engagement['id']}/send", headers=office.admin)).status_code == 200
    mails = [m for m in await tp.mail_to(office.client["email"]) if "sign" in m["subject"].lower()]
    link = await signing_link(tp, office.client["email"], len(mails))

    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await browser.new_page()
            await page.goto(link)
            assert await page.title() == "Consent to electronic records"
            await page.check("input[name=agree]")
            await page.click("#agree")
            await page.wait_for_selector("#typed_name")
            await page.fill("#typed_name", "Dana Q. Taxpayer")
            await page.click("#sign")
            await page.wait_for_selector("text=You signed")
        finally:
            await browser.close()

    results = await deliver_signature_events(tp)
    assert [r.json()["outcome"] for _, r in results] == ["applied"]
    evidence = results[0][0]["event"]["data"]["evidence"]
    assert "Chrome" in evidence["user_agent"] and evidence["typed_name"] == "Dana Q. Taxpayer"
    assert await tp.temporal.get_workflow_handle(f"engagement:{engagement['id']}").result() == "signed"
