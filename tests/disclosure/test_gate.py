"""The §7216 disclosure gate against the real database: each basis and each refusal, each with its disclosure log
row, and the log read through the API by those who may see the client."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from domain.consent.models import Consent
from domain.context import ServiceContext
from domain.disclosure import gate
from domain.disclosure.basis import DisclosurePurpose, RegulatoryException
from domain.disclosure.models import DisclosureLogEntry

NOW = datetime.now(timezone.utc)


@pytest_asyncio.fixture(loop_scope="session")
async def office(tp):
    firm_id = await tp.new_firm()
    _, admin = await tp.staff(firm_id, "admin")
    client = await tp.new_client(admin)
    return firm_id, admin, uuid.UUID(client["id"])


async def _consent(tp, firm_id, client_id, **overrides) -> uuid.UUID:
    values = dict(id=uuid.uuid4(), firm_id=firm_id, client_id=client_id, tax_year=2024, kind="disclosure",
                  consent_scope="SurePrep document processing", third_party_name="SurePrep LLC",
                  disclosure_purpose="Document OCR and data extraction", purpose="document_processing",
                  status="signed", signed_at=NOW - timedelta(days=1), expires_at=NOW + timedelta(days=364))
    values.update(overrides)
    async with tp.state.sessionmaker.begin() as session:
        session.add(Consent(**values))
    return values["id"]


async def _authorize(tp, firm_id, client_id, now=None, **fields) -> tuple[gate.Decision, DisclosureLogEntry]:
    disclosure = gate.Disclosure(**{"client_id": client_id, "recipient": "SurePrep",
                                    "purpose": DisclosurePurpose.DOCUMENT_PROCESSING, "information": "document",
                                    "tax_year": 2024, **fields})
    async with tp.state.sessionmaker.begin() as session:
        decision = await gate.authorize(ServiceContext.for_system(session, firm_id, "test"), disclosure, now=now)
    async with tp.state.sessionmaker() as session:
        return decision, await session.get(DisclosureLogEntry, decision.log_id)


async def test_without_a_consent_the_gate_refuses_and_logs_it(tp, office):
    firm_id, _, client_id = office
    decision, row = await _authorize(tp, firm_id, client_id)
    assert (decision.allowed, decision.basis, decision.refusal_reason) == (False, "none", "no_consent")
    assert (row.allowed, row.recipient, row.purpose, row.system_source) == (
        False, "SurePrep", "document_processing", "test")


async def test_a_signed_consent_for_that_recipient_and_purpose_allows_and_is_named(tp, office):
    firm_id, _, client_id = office
    consent_id = await _consent(tp, firm_id, client_id)
    decision, row = await _authorize(tp, firm_id, client_id)
    assert (decision.allowed, decision.basis, decision.consent_id) == (True, "consent", consent_id)
    assert (row.allowed, row.consent_id) == (True, consent_id)


@pytest.mark.parametrize("consent, reason", [
    ({"purpose": "portal_import"}, "no_consent"),            # another purpose
    ({"third_party_name": "Other Vendor Inc"}, "no_consent"),  # another recipient
    ({"kind": "use"}, "no_consent"),                         # a consent to use is not a consent to disclose
    ({"tax_year": 2023}, "no_consent"),                      # another year's information
    ({"status": "sent", "signed_at": None}, "consent_not_signed"),
    ({"status": "revoked", "revoked_at": NOW - timedelta(minutes=1)}, "consent_revoked"),
    ({"status": "expired", "expires_at": NOW - timedelta(days=1)}, "consent_expired"),
])
async def test_a_consent_that_does_not_cover_this_disclosure_refuses(tp, office, consent, reason):
    firm_id, _, client_id = office
    await _consent(tp, firm_id, client_id, **consent)
    decision, row = await _authorize(tp, firm_id, client_id)
    assert (decision.allowed, decision.refusal_reason) == (False, reason)
    assert (row.allowed, row.refusal_reason, row.consent_id) == (False, reason, None)


async def test_a_second_after_expiry_is_refused_before_the_consents_timer_fires(tp, office):
    firm_id, _, client_id = office
    expires_at = NOW + timedelta(days=30)
    await _consent(tp, firm_id, client_id, expires_at=expires_at)  # still "signed": no timer has run
    before, _ = await _authorize(tp, firm_id, client_id, now=expires_at - timedelta(seconds=1))
    after, _ = await _authorize(tp, firm_id, client_id, now=expires_at + timedelta(seconds=1))
    assert (before.allowed, after.allowed, after.refusal_reason) == (True, False, "consent_expired")


async def test_a_named_regulatory_exception_allows_without_consent(tp, office):
    firm_id, _, client_id = office
    decision, row = await _authorize(tp, firm_id, client_id, recipient="IRS", information="efile.federal",
                                     exception=RegulatoryException.EFILE_TRANSMISSION)
    assert (decision.allowed, decision.basis) == (True, "exception")
    assert (row.regulatory_exception, row.consent_id) == ("efile_transmission", None)


async def test_another_firms_consent_is_no_basis(tp, office):
    firm_id, _, client_id = office
    other_firm = await tp.new_firm()
    await _consent(tp, other_firm, client_id)  # a forged row naming this client under another firm
    decision, _ = await _authorize(tp, firm_id, client_id)
    assert decision.allowed is False


async def test_staff_read_the_log_newest_first_and_others_do_not(tp, office):
    firm_id, admin, client_id = office
    await _consent(tp, firm_id, client_id)
    await _authorize(tp, firm_id, client_id, information="first")
    await _authorize(tp, firm_id, client_id, information="second")
    response = await tp.http.get(f"/v1/clients/{client_id}/disclosures", headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [d["information"] for d in body["data"]][:2] == ["second", "first"]
    assert body["data"][0]["allowed"] is True and body["data"][0]["basis"] == "consent"
    refused = await tp.http.get(f"/v1/clients/{client_id}/disclosures?basis=none", headers=admin)
    assert all(d["allowed"] is False for d in refused.json()["data"])

    _, preparer = await tp.staff(firm_id, "preparer")  # not assigned to this client
    assert (await tp.http.get(f"/v1/clients/{client_id}/disclosures", headers=preparer)).status_code == 404
    other_firm = await tp.new_firm()
    _, stranger = await tp.staff(other_firm, "admin")
    assert (await tp.http.get(f"/v1/clients/{client_id}/disclosures", headers=stranger)).status_code == 404
    bad = await tp.http.get(f"/v1/clients/{client_id}/disclosures?purpose=marketing", headers=admin)
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("statement", ["UPDATE disclosure_log SET allowed = true",
                                       "DELETE FROM disclosure_log", "TRUNCATE disclosure_log"])
async def test_the_apps_role_cannot_rewrite_the_log(tp, office, statement):
    firm_id, _, client_id = office
    await _authorize(tp, firm_id, client_id)
    async with tp.state.engine.connect() as conn:
        transaction = await conn.begin()
        try:
            with pytest.raises(DBAPIError, match="permission denied"):
                await conn.execute(text(statement))
        finally:
            await transaction.rollback()
