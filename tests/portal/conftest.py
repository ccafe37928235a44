"""Portal tests: the portal sandbox on a free port (a connection names its URL), a firm with an admin, a client,
and a signed portal-import consent naming the portal, written as a row (the consents API is another issue's)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import pytest_asyncio

from domain.consent.models import Consent
from sandboxes.portal import DEMO_EMAIL, DEMO_PASSWORD, DEMO_TOTP_SECRET, PortalData, start

PORTAL_NAME = "TaxDome"


@dataclass
class Office:
    firm_id: uuid.UUID
    headers: dict
    client_id: uuid.UUID
    consent_id: uuid.UUID


@pytest.fixture
def portal():
    server = start(PortalData.demo())
    yield server
    server.stop()


async def consent(tp, firm_id, client_id, **overrides) -> uuid.UUID:
    now = datetime.now(timezone.utc)
    values = dict(id=uuid.uuid4(), firm_id=firm_id, client_id=client_id, tax_year=2025, kind="disclosure",
                  consent_scope="Client portal import", third_party_name=PORTAL_NAME,
                  disclosure_purpose="Mirror my TaxDome portal into the firm's system", purpose="portal_import",
                  status="signed", signed_at=now - timedelta(days=1), expires_at=now + timedelta(days=364))
    values.update(overrides)
    async with tp.state.sessionmaker.begin() as session:
        session.add(Consent(**values))
    return values["id"]


@pytest_asyncio.fixture(loop_scope="session")
async def office(tp):
    firm_id = await tp.new_firm()
    _, headers = await tp.staff(firm_id, "admin")
    client = await tp.new_client(headers, name="Jordan Lee")
    client_id = uuid.UUID(client["id"])
    return Office(firm_id, headers, client_id, await consent(tp, firm_id, client_id))


def body(office: Office, portal, **overrides) -> dict:
    return {"client_id": str(office.client_id), "base_url": portal.url, "email": DEMO_EMAIL,
            "password": DEMO_PASSWORD, "totp_secret": DEMO_TOTP_SECRET, "consent_id": str(office.consent_id),
            **overrides}


async def connect(tp, office: Office, portal, **overrides) -> dict:
    response = await tp.http.post("/v1/portal-connections", json=body(office, portal, **overrides),
                                  headers=office.headers)
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def wait_for_sync(tp, office: Office, connection_id: str, sync_id: str, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = await tp.http.get(f"/v1/portal-connections/{connection_id}/syncs/{sync_id}", headers=office.headers)
        assert answer.status_code == 200, answer.text
        if answer.json()["data"]["status"] != "running":
            return answer.json()["data"]
        await asyncio.sleep(0.3)
    raise AssertionError(f"sync {sync_id} still running after {timeout_s} s")


async def sync(tp, office: Office, connection_id: str) -> dict:
    started = await tp.http.post(f"/v1/portal-connections/{connection_id}/sync", headers=office.headers)
    assert started.status_code == 202, started.text
    return await wait_for_sync(tp, office, connection_id, started.json()["data"]["id"])


def knobs(portal, **values) -> None:
    httpx.post(f"{portal.url}/_sandbox/knobs", json=values).raise_for_status()


def stats(portal) -> dict:
    return httpx.get(f"{portal.url}/_sandbox/stats").json()


def reset_stats(portal) -> None:
    httpx.post(f"{portal.url}/_sandbox/stats/reset").raise_for_status()
