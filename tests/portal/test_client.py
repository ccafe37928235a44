"""The portal client against the portal sandbox over HTTP: the session and its second factor, token rotation,
the account-switch dance, paging, rate limits and outages, conditional downloads, and drift."""

from __future__ import annotations

import io
import time

import httpx
import pyotp
import pytest

from integrations import portal_models as pm
from integrations.portal import (
    PortalClient, PortalDrift, PortalSignInRefused, Retries, SessionState, SessionTokens, TOTP_STEP_S,
)
from integrations.providers import ProviderRejected, ProviderUnavailable
from sandboxes.portal import DEMO_EMAIL, DEMO_PASSWORD, DEMO_TOTP_SECRET, start


@pytest.fixture
def portal():
    server = start()
    yield server
    server.stop()


def knobs(portal, **values) -> None:
    httpx.post(f"{portal.url}/_sandbox/knobs", json=values).raise_for_status()


def stats(portal) -> dict:
    return httpx.get(f"{portal.url}/_sandbox/stats").json()


def client(portal, **overrides) -> PortalClient:
    values = dict(base_url=portal.url, email=DEMO_EMAIL, password=DEMO_PASSWORD, totp_secret=DEMO_TOTP_SECRET,
                  device_id="test", retries=Retries(base_s=0.05, attempts=4))
    values.update(overrides)
    return PortalClient(**values)


async def walk(c: PortalClient, surface: str, account: str, **kw) -> list:
    return [item async for _, page in c.pages(surface, account, **kw) for item in page.items]


def pre_signed_in_state(portal) -> SessionState:
    """A session set up outside the client, with the previous step's code (the portal accepts one step of
    drift), so the client's own sign-in in this step needs no wait."""
    code = pyotp.TOTP(DEMO_TOTP_SECRET).at(time.time() - TOTP_STEP_S)
    answer = httpx.post(f"{portal.url}/api/auth/session", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD,
                                                               "device_id": "setup", "otp": code}).json()
    return SessionState(SessionTokens(answer["access_token"], answer["refresh_token"], time.time() + 1800, 1800))


async def test_sign_in_sends_the_totp_code_once_and_lists_the_linked_accounts(portal):
    async with client(portal) as c:
        accounts = await c.accounts()
    assert [(a.id, a.type, a.region) for a in accounts.items] == [("acc_1", "individual", "us"),
                                                                  ("acc_2", "business", "us")]
    [attempt] = stats(portal)["sign_ins"]
    assert attempt["outcome"] == "signed_in" and attempt["otp"] == pyotp.TOTP(DEMO_TOTP_SECRET).now()
    assert c.state.otp_last_step == int(time.time() // 30) or c.state.otp_last_step == int(time.time() // 30) - 1


async def test_a_wrong_password_is_refused_once_and_never_retried(portal):
    async with client(portal, password="wrong") as c:
        with pytest.raises(PortalSignInRefused) as refused:
            await c.accounts()
    assert refused.value.code == "invalid_credentials"
    assert len(stats(portal)["sign_ins"]) == 1


async def test_a_wrong_code_gets_one_more_try_in_the_next_step_with_another_code_then_stops(portal):
    async with client(portal, totp_secret=pyotp.random_base32()) as c:
        with pytest.raises(PortalSignInRefused) as refused:
            await c.accounts()
    assert refused.value.code == "invalid_otp"
    attempts = stats(portal)["sign_ins"]
    assert [a["outcome"] for a in attempts] == ["invalid_otp", "invalid_otp"]
    assert attempts[0]["otp"] != attempts[1]["otp"]
    assert int(attempts[0]["at"] // 30) < int(attempts[1]["at"] // 30)  # never two tries in one step


async def test_a_code_already_used_is_never_sent_again_the_client_waits_for_the_next_step(portal):
    used_step = int(time.time() // 30)
    async with client(portal, state=SessionState(otp_last_step=used_step)) as c:
        await c.accounts()
    [attempt] = stats(portal)["sign_ins"]
    assert attempt["outcome"] == "signed_in" and int(attempt["at"] // 30) > used_step
    assert c.state.otp_last_step == used_step + 1


async def test_an_expired_access_token_is_refreshed_and_the_refresh_token_rotated(portal):
    async with client(portal) as c:
        await c.accounts()
        first = c.state.tokens
        httpx.post(f"{portal.url}/_sandbox/expire-tokens")
        await c.accounts()
        second = c.state.tokens
    assert second.refresh_token != first.refresh_token and second.access_token != first.access_token
    old = httpx.post(f"{portal.url}/api/auth/refresh", json={"refresh_token": first.refresh_token})
    assert (old.status_code, old.json()) == (401, {"error": "invalid_refresh_token"})
    assert len(stats(portal)["sign_ins"]) == 1


async def test_a_token_about_to_expire_is_refreshed_before_the_request(portal):
    knobs(portal, token_lifetime_s=2)
    async with client(portal) as c:
        await c.accounts()
        first = c.state.tokens.access_token
        time.sleep(1.7)  # inside the margin (a fifth of the lifetime), not yet expired
        await c.accounts()
    assert c.state.tokens.access_token != first
    assert stats(portal)["requests"].get("/api/auth/refresh") == 1


async def test_a_refused_refresh_token_means_a_fresh_sign_in_with_the_second_factor(portal):
    async with client(portal, state=pre_signed_in_state(portal)) as c:
        httpx.post(f"{portal.url}/_sandbox/expire-tokens")
        httpx.post(f"{portal.url}/_sandbox/revoke-refresh")
        assert len((await c.accounts()).items) == 2
    outcomes = [a["outcome"] for a in stats(portal)["sign_ins"]]
    assert outcomes == ["signed_in", "signed_in"]  # the setup's, then the client's own


async def test_every_surface_request_names_its_account_and_a_switch_mid_walk_is_danced(portal):
    knobs(portal, switch_account_every=2)
    async with client(portal) as c:
        first = await walk(c, "invoices", "acc_1", per_page=1)
        second = await walk(c, "invoices", "acc_2", per_page=1)
    assert [i.id for i in first] == [i.id for i in second] == ["inv_1", "inv_2"]  # ids repeat across accounts
    counts = stats(portal)["requests"]
    assert counts["/api/accounts/select"] >= 1 and counts["/api/invoices"] > 4  # 409s answered, pages repeated


async def test_paging_follows_next_page_when_the_portal_answers_smaller_pages_than_asked(portal):
    knobs(portal, max_per_page=1)
    async with client(portal) as c:
        items = await walk(c, "documents", "acc_1", folder="client_uploaded", per_page=100)
    assert [d.name for d in items] == ["W2_Acme_2025.pdf", "Drivers_License.pdf"]
    assert stats(portal)["requests"]["/api/documents"] == 2


@pytest.mark.parametrize("fault", [
    {"status": 429, "retry_after": 1, "times": 1},
    {"status": 429, "retry_after": None, "times": 2},
    {"status": 503, "body": "html", "times": 2},
])
async def test_rate_limits_and_outages_are_waited_out_and_the_walk_resumes_on_its_page(portal, fault):
    knobs(portal, max_per_page=1, faults=[{"path": "/api/invoices", "after": 1, **fault}])
    started = time.monotonic()
    async with client(portal) as c:
        items = await walk(c, "invoices", "acc_1")
    assert [i.id for i in items] == ["inv_1", "inv_2"]
    assert stats(portal)["requests"]["/api/invoices"] == 2 + fault["times"]
    if fault.get("retry_after"):
        assert time.monotonic() - started >= fault["retry_after"]


async def test_an_outage_that_lasts_is_unavailable_after_the_retries(portal):
    knobs(portal, faults=[{"path": "/api/tasks", "status": 503, "times": 100}])
    async with client(portal) as c:
        with pytest.raises(ProviderUnavailable):
            await walk(c, "tasks", "acc_1")
    assert stats(portal)["requests"]["/api/tasks"] == 5  # the first try and 4 retries


async def test_other_client_errors_are_not_retried(portal):
    async with client(portal) as c:
        with pytest.raises(ProviderRejected):
            await c.download("acc_1", "doc_999", io.BytesIO())
    assert stats(portal)["requests"]["/api/documents/doc_999/download"] == 1


async def test_a_download_is_conditional_on_its_etag(portal):
    async with client(portal) as c:
        [doc] = await walk(c, "documents", "acc_1", folder="firm_shared")
        sink = io.BytesIO()
        first = await c.download("acc_1", doc.id, sink)
        again = await c.download("acc_1", doc.id, io.BytesIO(), etag=first.etag)
    assert (first.sha256, first.size, first.etag) == (doc.sha256, doc.size, f'"{doc.sha256}"')
    assert again.not_modified
    assert stats(portal)["bytes_downloaded"] == doc.size


@pytest.mark.parametrize("surface, drift, field", [
    ("invoices", {"kind": "missing", "field": "total"}, "total"),
    ("invoices", {"kind": "type", "field": "total"}, "total"),
    ("tasks", {"kind": "enum", "field": "status"}, "status"),
    ("engagements", {"kind": "no_items"}, "items"),
    ("organizers", {"kind": "type", "field": "tax_year"}, "tax_year"),
])
async def test_drift_stops_the_surface_naming_surface_and_field(portal, surface, drift, field):
    knobs(portal, drift={surface: drift})
    async with client(portal) as c:
        with pytest.raises(PortalDrift) as drifted:
            await walk(c, surface, "acc_1")
        assert len(await walk(c, "signatures", "acc_1")) == 1  # other surfaces read on
    assert (drifted.value.surface, drifted.value.field) == (surface, field)
    assert surface in str(drifted.value) and field in str(drifted.value)


async def test_extra_fields_are_not_drift_and_are_not_kept(portal):
    knobs(portal, drift={"invoices": {"kind": "extra", "field": "loyalty_points"}})
    async with client(portal) as c:
        items = await walk(c, "invoices", "acc_1")
    assert len(items) == 2 and "loyalty_points" not in items[0].model_dump()
    assert isinstance(items[0], pm.Invoice)
