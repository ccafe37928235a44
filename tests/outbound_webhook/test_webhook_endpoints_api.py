"""The endpoints API (admin): register with a generated or given secret shown once, list, get, patch, delete,
rotate; every refusal a 4xx problem with nothing written."""

from __future__ import annotations

import base64
import contextlib
import uuid
from datetime import datetime, timezone

import httpx
import pytest
from sqlalchemy import func, select

from api.app import create_app
from api.state import build_state
from domain.consent.models import Consent
from domain.outbound_webhook.models import WebhookEndpoint
from tests.outbound_webhook.conftest import endpoint_row, problem, register


async def test_register_shows_the_generated_secret_once_and_stores_it_sealed(tp, firm):
    created = await register(tp, firm, "https://93.184.215.14/hooks", events=["document.uploaded",
                                                                             "return.status_changed"],
                             description="partner")
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) >= 24
    assert created["events"] == ["document.uploaded", "return.status_changed"]
    assert created["enabled"] is True and created["payload"] == "thin"
    read = (await tp.http.get(f"/v1/admin/webhooks/{created['id']}", headers=firm.admin)).json()["data"]
    assert "secret" not in read
    row = await endpoint_row(tp, created["id"])
    assert secret.encode() not in row.secret_ciphertext and secret[6:].encode() not in row.secret_ciphertext

    listed = (await tp.http.get("/v1/admin/webhooks", headers=firm.admin)).json()
    assert [e["id"] for e in listed["data"]] == [created["id"]]

    given = "whsec_" + base64.b64encode(b"k" * 32).decode()
    assert (await register(tp, firm, "https://93.184.215.14/other", secret=given))["secret"] == given


async def test_patch_delete_and_rotate(tp, firm):
    created = await register(tp, firm, "https://93.184.215.14/a")
    url = f"/v1/admin/webhooks/{created['id']}"
    patched = await tp.http.patch(url, headers=firm.admin, json={"enabled": False, "events": ["invoice.paid"]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["enabled"] is False and patched.json()["data"]["events"] == ["invoice.paid"]
    problem(await tp.http.patch(url, headers=firm.admin, json={"events": ["return.exploded"]}), 400)
    problem(await tp.http.patch(url, headers=firm.admin, json={"enabled": None}), 400)

    rotated = await tp.http.post(f"{url}/rotate-secret", headers=firm.admin)
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()["data"]
    assert body["secret"] != created["secret"] and body["secret_rotating_until"] is not None
    until = datetime.fromisoformat(body["secret_rotating_until"].replace("Z", "+00:00"))
    assert 23.9 * 3600 < (until - datetime.now(timezone.utc)).total_seconds() <= 24 * 3600

    assert (await tp.http.delete(url, headers=firm.admin)).status_code == 204
    problem(await tp.http.get(url, headers=firm.admin), 404)


async def test_only_admins_and_only_their_firm(tp, firm):
    created = await register(tp, firm, "https://93.184.215.14/a")
    _, preparer = await tp.staff_session(firm.firm_id, "preparer")
    problem(await tp.http.post("/v1/admin/webhooks", headers=preparer,
                               json={"url": "https://10.0.0.1/", "events": ["invoice.paid"]}), 403)
    problem(await tp.http.get("/v1/admin/webhooks", headers=preparer), 403)
    other = await tp.new_firm("Other")
    _, other_admin = await tp.staff_session(other, "admin")
    problem(await tp.http.get(f"/v1/admin/webhooks/{created['id']}", headers=other_admin), 404)
    problem(await tp.http.post(f"/v1/admin/webhooks/{created['id']}/test", headers=other_admin), 404)


@pytest.mark.parametrize("body, status", [
    ({"url": "https://93.184.215.14/", "events": ["return.status.changed"]}, 400),  # the spec's spelling is not ours
    ({"url": "https://93.184.215.14/", "events": []}, 400),
    ({"url": "https://93.184.215.14/", "events": ["invoice.paid"], "secret": "not-a-secret"}, 400),
    ({"url": "https://93.184.215.14/", "events": ["invoice.paid"],
      "secret": "whsec_" + base64.b64encode(b"short").decode()}, 400),
    ({"url": "https://93.184.215.14/", "events": ["invoice.paid"], "colour": "red"}, 400),
    ({"url": "ftp://93.184.215.14/", "events": ["invoice.paid"]}, 400),
    # Rules across fields and about stored consents: well-formed bodies, refused by a business rule.
    ({"url": "https://93.184.215.14/", "events": ["invoice.paid"], "payload": "full"}, 422),
    ({"url": "https://93.184.215.14/", "events": ["invoice.paid"], "payload": "full",
      "consent_id": str(uuid.uuid4())}, 422),
    ({"url": "https://93.184.215.14/", "events": ["invoice.paid"], "consent_id": str(uuid.uuid4())}, 422),
])
async def test_bad_registrations_are_refused_and_write_nothing(tp, firm, body, status):
    problem(await tp.http.post("/v1/admin/webhooks", headers=firm.admin, json=body), status)
    async with tp.state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(WebhookEndpoint)
                                    .where(WebhookEndpoint.firm_id == firm.firm_id)) == 0


async def test_a_full_payload_names_a_signed_consent_for_webhook_delivery(tp, firm):
    client = await tp.new_client(firm.admin)
    async with tp.state.sessionmaker.begin() as session:
        unsigned = Consent(id=uuid.uuid4(), firm_id=firm.firm_id, client_id=uuid.UUID(client["id"]), tax_year=2025,
                           kind="disclosure", consent_scope="events", third_party_name="Partner Analytics LLC",
                           disclosure_purpose="webhooks", purpose="webhook_delivery", status="sent")
        signed = Consent(id=uuid.uuid4(), firm_id=firm.firm_id, client_id=uuid.UUID(client["id"]), tax_year=2025,
                         kind="disclosure", consent_scope="events", third_party_name="Partner Analytics LLC",
                         disclosure_purpose="webhooks", purpose="webhook_delivery", status="signed",
                         signed_at=datetime.now(timezone.utc))
        session.add_all([unsigned, signed])
    problem(await tp.http.post("/v1/admin/webhooks", headers=firm.admin, json={
        "url": "https://93.184.215.14/", "events": ["invoice.paid"], "payload": "full",
        "consent_id": str(unsigned.id)}), 422, "consent_not_usable")
    created = await register(tp, firm, "https://93.184.215.14/", events=["invoice.paid"], payload="full",
                             consent_id=str(signed.id))
    assert created["recipient"] == "Partner Analytics LLC" and created["consent_id"] == str(signed.id)


@contextlib.asynccontextmanager
async def production_api(tp, **settings_changes):
    """The same API with local targets refused, as outside development (and any other setting changed)."""
    settings = tp.settings.model_copy(update={"outbound_webhook_allow_local": False, **settings_changes})
    state = build_state(settings)
    state.use_temporal_client(tp.temporal)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, state)),
                                     base_url="http://testserver") as http:
            yield http
    finally:
        await state.engine.dispose()


# The URL's form is the body's (400, as the document's pattern says); where it leads is a business rule (422).
@pytest.mark.parametrize("url, code", [
    ("http://93.184.215.14/hook", "webhook_url_scheme"),  # not https (in production)
    ("https://127.0.0.1/hook", "webhook_url_forbidden"),  # literal loopback
    ("https://10.1.2.3/hook", "webhook_url_forbidden"),  # literal private
    ("https://192.168.0.10:8443/hook", "webhook_url_forbidden"),
    ("https://100.64.0.1/hook", "webhook_url_forbidden"),  # shared address space (carrier NAT)
    ("https://169.254.169.254/latest/meta-data/", "webhook_url_forbidden"),  # cloud metadata
    ("https://localhost:9000/hook", "webhook_url_forbidden"),  # a DNS name that resolves to loopback
    ("https://[::1]/hook", "webhook_url_forbidden"),  # IPv6 loopback
    ("https://[fd00:ec2::254]/", "webhook_url_forbidden"),  # IPv6 metadata (unique-local)
    ("https://[fe80::1]/hook", "webhook_url_forbidden"),  # IPv6 link-local
    ("https://[::ffff:10.0.0.1]/hook", "webhook_url_forbidden"),  # IPv4-mapped private
    ("https://[64:ff9b::a9fe:a9fe]/", "webhook_url_forbidden"),  # NAT64 form of the metadata address
    ("https://0.0.0.0/hook", "webhook_url_forbidden"),
    ("https://no-such-host.invalid/hook", "webhook_url_unresolvable"),
])
async def test_unsafe_targets_are_refused_at_registration(tp, firm, url, code):
    async with production_api(tp) as http:
        body = problem(await http.post("/v1/admin/webhooks", headers=firm.admin,
                                       json={"url": url, "events": ["invoice.paid"]}), 422)
        assert body["errors"][0]["field"] == "url" and body["errors"][0]["code"] == code, body
        endpoint = await register(tp, firm, "https://93.184.215.14/hook")
        problem(await http.patch(f"/v1/admin/webhooks/{endpoint['id']}", headers=firm.admin, json={"url": url}), 422)
        assert (await endpoint_row(tp, endpoint["id"])).url == "https://93.184.215.14/hook"


@pytest.mark.parametrize("url", ["https://user:pw@93.184.215.14/hook", "https://93.184.215.14/hook#part",
                                 "93.184.215.14/hook", "https:///hook"])
async def test_a_malformed_url_is_a_400(tp, firm, url):
    body = problem(await tp.http.post("/v1/admin/webhooks", headers=firm.admin,
                                      json={"url": url, "events": ["invoice.paid"]}), 400)
    assert body["errors"][0]["field"] == "url", body
