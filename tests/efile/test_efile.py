"""E-filing end to end over HTTP against the transmitter sandbox, with the real workers: transmit federal and a
state → acknowledged → the return complete; each sandbox rejection; resubmission; a state denied after a
federal rejection; an outage mid-submit; acknowledgements by poll when no webhook comes; the guards."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

from sqlalchemy import update

from domain.efile.models import EfileTransmission
from tests.support import domain_events
from tests.efile.conftest import (
    ready_return, remote_8879, set_identity, transmissions, transmit, wait_transmissions,
)
from tests.tax_return.conftest import assert_problem, wait_for_status

SUBMISSION_ID = re.compile(r"^[0-9]{6}[0-9]{4}[0-9]{3}[a-z0-9]{7}$")


def by_jurisdiction(rows: list[dict]) -> dict:
    return {row["jurisdiction"]: row for row in rows if row["resolved_at"] is None}


async def test_federal_and_state_accepted_and_the_return_complete(tp, firm, transmitter):
    client, rid = await ready_return(tp, firm, "Lovelace")
    answer = await transmit(tp, firm, rid, ["federal", "CA"], figures={"total_income": "85000.00",
                                                                       "agi": "80000.00", "total_tax": "9000.00"})
    sent = answer["data"]["transmissions"]
    assert [(t["jurisdiction"], t["status"]) for t in sent] == [("federal", "transmitting"), ("CA", "pending")]
    assert all(SUBMISSION_ID.match(t["submission_id"]) for t in sent)
    assert sent[0]["submission_id"] != sent[1]["submission_id"]
    assert sent[1]["federal_transmission_id"] == sent[0]["id"]

    await wait_for_status(tp, firm.headers["admin"], rid, "complete", timeout_s=30)
    rows = by_jurisdiction(await transmissions(tp, firm, rid))
    assert {j: r["status"] for j, r in rows.items()} == {"federal": "accepted", "CA": "accepted"}
    assert rows["federal"]["confirmation_number"].startswith("IRS") and rows["CA"]["confirmation_number"]
    assert rows["federal"]["acceptance_date"] == date.today().isoformat()
    for row in rows.values():  # what a firm's webhook endpoints hear, thin
        assert await domain_events(tp, row["id"]) == [("efile.accepted", {"status": "accepted"})]
    # The state went only after the federal acceptance.
    assert rows["CA"]["transmitted_at"] >= rows["federal"]["acknowledged_at"]

    detail = (await tp.http.get(f"/v1/returns/{rid}/efiling/{rows['federal']['id']}",
                                headers=firm.headers["admin"])).json()["data"]
    assert detail["acknowledgement"]["ack_type"] == "accepted" and detail["rejection"] is None
    state = (await tp.http.get(f"/v1/returns/{rid}/workflow/state", headers=firm.headers["admin"])).json()["data"]
    assert [(h["action"], h["actor_role"]) for h in state["history"][-3:]] == [
        ("transmit", "system"), ("mark_accepted", "system"), ("complete", "system")]
    # One disclosure log row per jurisdiction, through the §7216 gate under the e-file exception.
    log = (await tp.http.get(f"/v1/clients/{client['id']}/disclosures", headers=firm.headers["admin"])).json()["data"]
    assert sorted((d["recipient"], d["basis"], d["regulatory_exception"], d["allowed"]) for d in log) == [
        ("IRS", "exception", "efile_transmission", True), ("state:CA", "exception", "efile_transmission", True)]


async def test_guards_each_a_422_naming_its_reason(tp, firm, transmitter):
    from tests.efile.conftest import ready_to_file_return, new_client

    client = await new_client(tp, firm, "Guarded")
    rid = await ready_to_file_return(tp, firm, client)
    # A preparer may not transmit; a jurisdiction must be known and the federal return included.
    response = await tp.http.post(f"/v1/returns/{rid}/efiling/transmit", headers=firm.headers["preparer"],
                                  json={"jurisdictions": ["federal"]})
    assert_problem(response, 403)
    assert_problem(await tp.http.post(f"/v1/returns/{rid}/efiling/transmit", headers=firm.headers["admin"],
                                      json={"jurisdictions": ["federal", "XX"]}), 400)
    assert_problem(await tp.http.post(f"/v1/returns/{rid}/efiling/transmit", headers=firm.headers["admin"],
                                      json={"jurisdictions": ["CA"]}), 400)
    # No 8879 on file.
    body = assert_problem(await tp.http.post(f"/v1/returns/{rid}/efiling/transmit", headers=firm.headers["admin"],
                                             json={"jurisdictions": ["federal"]}), 422, "form_8879_missing")
    assert "8879" in body["detail"]
    # A remotely signed 8879 and the client's identity not verified.
    await remote_8879(tp, client, rid, firm.firm_id)
    assert_problem(await tp.http.post(f"/v1/returns/{rid}/efiling/transmit", headers=firm.headers["admin"],
                                      json={"jurisdictions": ["federal"]}), 422, "identity_not_verified")
    await set_identity(tp, client["id"], "verified")
    # A document of the return still being processed: its forms are not complete.
    async with tp.state.sessionmaker.begin() as session:
        from domain.document.models import Document
        session.add(Document(id=uuid.uuid4(), firm_id=firm.firm_id, client_id=uuid.UUID(client["id"]),
                             return_id=uuid.UUID(rid), tax_year=2025, filename="w2.pdf", file_size=1,
                             mime_type="application/pdf", sha256="1" * 64, s3_key=f"t/{uuid.uuid4()}",
                             status="extracting", source="staff_upload", uploaded_by_role="admin"))
    assert_problem(await tp.http.post(f"/v1/returns/{rid}/efiling/transmit", headers=firm.headers["admin"],
                                      json={"jurisdictions": ["federal"]}), 422, "forms_incomplete")
    async with tp.state.sessionmaker.begin() as session:
        from domain.document.models import Document
        await session.execute(update(Document).where(Document.return_id == uuid.UUID(rid),
                                                     Document.status == "extracting").values(status="processed"))
    await transmit(tp, firm, rid)
    # Not ready any more (filed), and one transmission at a time.
    await wait_for_status(tp, firm.headers["admin"], rid, "complete", timeout_s=30)
    assert_problem(await tp.http.post(f"/v1/returns/{rid}/efiling/transmit", headers=firm.headers["admin"],
                                      json={"jurisdictions": ["federal"]}), 422, "return_not_ready_to_file")


async def test_mismatch_rejected_state_denied_then_corrected_and_resubmitted(tp, firm, transmitter):
    client, rid = await ready_return(tp, firm, "Mismatch")
    figures = {"total_income": "50000.00", "agi": "48000.00", "total_tax": "4000.00"}
    await transmit(tp, firm, rid, ["federal", "NY"], figures=figures)
    await wait_for_status(tp, firm.headers["admin"], rid, "rejected", timeout_s=30)
    rows = await wait_transmissions(tp, firm, rid, lambda rows: by_jurisdiction(rows)["NY"]["status"] == "denied_by_irs")
    federal = by_jurisdiction(rows)["federal"]
    assert federal["status"] == "rejected"
    assert federal["perfection_deadline"] == (date.fromisoformat(federal["acknowledged_at"][:10])
                                              + timedelta(days=5)).isoformat()
    rejections = (await tp.http.get(f"/v1/returns/{rid}/efiling/{federal['id']}/rejections",
                                    headers=firm.headers["admin"])).json()["data"]
    assert rejections["jurisdiction"] == "federal"
    [rejection] = rejections["rejections"]
    assert (rejection["error_code"], rejection["category"], rejection["auto_correctable"]) == (
        "IND-031-04", "data_mismatch", False)
    assert rejection["severity"] == "reject_and_stop" and "prior-year AGI" in rejection["resolution_guidance"]
    # The client is told (Pub 1345: within 24 hours).
    mail = await tp.wait_for_mail(client["email"])
    assert "rejected" in mail["subject"] and "IND-031-04" in mail["text"]

    # A correction beyond the tolerance ($14 of tax) needs a new 8879 first.
    url = f"/v1/returns/{rid}/efiling/{federal['id']}/resubmit"
    body = assert_problem(await tp.http.post(url, headers=firm.headers["ea_cpa"], json={
        "notes": "corrected", "figures": {**figures, "total_tax": "4015.00"}}), 422, "form_8879_missing")
    assert "tolerance" in body["detail"]
    # The data mismatch is corrected on the client (the name as the IRS has it), within the tolerance.
    patched = await tp.http.patch(f"/v1/clients/{client['id']}", headers=firm.headers["admin"],
                                  json={"name": "Ann Lovelace"})
    assert patched.status_code == 200, patched.text
    response = await tp.http.post(url, headers=firm.headers["ea_cpa"], json={
        "notes": "Prior-year AGI corrected", "figures": {**figures, "total_tax": "4010.00"}})
    assert response.status_code == 202, response.text
    answer = response.json()["data"]
    assert answer["filing_date_kept"] is True and answer["beyond_tolerance"] == []
    again = {t["jurisdiction"]: t for t in answer["transmissions"]}
    assert again["federal"]["previous_transmission_id"] == federal["id"]
    assert again["federal"]["filing_date"] == federal["filing_date"]
    assert again["NY"]["federal_transmission_id"] == again["federal"]["id"]
    # Resubmitting the same rejection twice is refused.
    assert_problem(await tp.http.post(url, headers=firm.headers["ea_cpa"], json={}), 409)

    await wait_for_status(tp, firm.headers["admin"], rid, "complete", timeout_s=30)
    rows = by_jurisdiction(await transmissions(tp, firm, rid))
    assert {j: (r["status"], r["transmission_type"]) for j, r in rows.items()} == {
        "federal": ("accepted", "resubmission"), "NY": ("accepted", "resubmission")}


async def test_duplicate_rejected_and_resubmitted_after_the_perfection_period(tp, firm, transmitter):
    client, rid = await ready_return(tp, firm, "Duplicate")
    await transmit(tp, firm, rid)
    await wait_for_status(tp, firm.headers["admin"], rid, "rejected", timeout_s=30)
    federal = by_jurisdiction(await transmissions(tp, firm, rid))["federal"]
    [rejection] = (await tp.http.get(f"/v1/returns/{rid}/efiling/{federal['id']}/rejections",
                                     headers=firm.headers["admin"])).json()["data"]["rejections"]
    assert (rejection["error_code"], rejection["category"]) == ("R0000-902-01", "duplicate")
    # The perfection period has passed (moved into the past here): the resubmission goes, with a new filing date.
    async with tp.state.sessionmaker.begin() as session:
        await session.execute(update(EfileTransmission).where(EfileTransmission.id == uuid.UUID(federal["id"]))
                              .values(perfection_deadline=date.today() - timedelta(days=1)))
    await tp.http.patch(f"/v1/clients/{client['id']}", headers=firm.headers["admin"], json={"name": "Ann Unique"})
    response = await tp.http.post(f"/v1/returns/{rid}/efiling/{federal['id']}/resubmit",
                                  headers=firm.headers["admin"], json={"notes": "not a duplicate"})
    assert response.status_code == 202, response.text
    answer = response.json()["data"]
    assert answer["filing_date_kept"] is False and "new" in answer["filing_date_note"]
    await wait_for_status(tp, firm.headers["admin"], rid, "complete", timeout_s=30)
    rows = by_jurisdiction(await transmissions(tp, firm, rid))
    assert rows["federal"]["filing_date"] == date.today().isoformat() and not rows["federal"]["filing_date_kept"]


async def test_glitch_is_retried_automatically_and_accepted(tp, firm, transmitter):
    _, rid = await ready_return(tp, firm, "Glitch")
    await transmit(tp, firm, rid)
    await wait_for_status(tp, firm.headers["admin"], rid, "complete", timeout_s=30)
    federal = by_jurisdiction(await transmissions(tp, firm, rid))["federal"]
    assert federal["status"] == "accepted" and federal["attempts"] == 2
    [rejection] = (await tp.http.get(f"/v1/returns/{rid}/efiling/{federal['id']}/rejections",
                                     headers=firm.headers["admin"])).json()["data"]["rejections"]
    assert rejection["category"] == "technical" and rejection["auto_correctable"] is True
    assert rejection["submission_id"] != federal["submission_id"]  # the retry went under a new Submission ID
    state = (await tp.http.get(f"/v1/returns/{rid}/workflow/state", headers=firm.headers["admin"])).json()["data"]
    assert "mark_rejected" not in [h["action"] for h in state["history"]]


async def test_outage_mid_submit_is_retried_and_files_once(tp, firm, transmitter):
    _, rid = await ready_return(tp, firm, "Outage")
    await transmitter.outage(2)  # the transmitter records the submission, then answers 503, twice
    [sent] = (await transmit(tp, firm, rid))["data"]["transmissions"]
    await wait_for_status(tp, firm.headers["admin"], rid, "complete", timeout_s=40)
    [filed] = [s for s in await transmitter.submissions() if s["submission_id"] == sent["submission_id"]]
    assert filed["filed"] == 1 and filed["repeats"] == 2


async def test_acknowledgement_by_poll_when_no_webhook_comes(tp, firm, transmitter):
    _, rid = await ready_return(tp, firm, "Polled")
    await transmitter.configure(webhooks=False)
    try:
        await transmit(tp, firm, rid)
        await wait_for_status(tp, firm.headers["admin"], rid, "complete", timeout_s=30)
    finally:
        await transmitter.configure(webhooks=True)
    federal = by_jurisdiction(await transmissions(tp, firm, rid))["federal"]
    detail = (await tp.http.get(f"/v1/returns/{rid}/efiling/{federal['id']}",
                                headers=firm.headers["admin"])).json()["data"]
    assert detail["acknowledgement"]["received_via"] == "poll"


async def test_a_remote_8879_with_verified_identity_transmits(tp, firm, transmitter):
    from tests.efile.conftest import ready_to_file_return, new_client

    client = await new_client(tp, firm, "Remote")
    rid = await ready_to_file_return(tp, firm, client)
    await remote_8879(tp, client, rid, firm.firm_id)
    await set_identity(tp, client["id"], "verified")
    await transmit(tp, firm, rid)
    await wait_for_status(tp, firm.headers["admin"], rid, "complete", timeout_s=30)


async def test_reading_is_staff_only_and_scoped(tp, firm, transmitter):
    client, rid = await ready_return(tp, firm, "Reader")
    await transmit(tp, firm, rid)
    other_firm = await tp.new_firm()
    _, stranger = await tp.staff_session(other_firm, "admin")
    assert_problem(await tp.http.get(f"/v1/returns/{rid}/efiling", headers=stranger), 404)
    assert_problem(await tp.http.get(f"/v1/returns/{rid}/efiling/{uuid.uuid4()}", headers=firm.headers["admin"]),
                   404)


async def test_a_remote_8879_goes_once_the_client_verified_their_identity(tp, firm, transmitter):
    """The identity capability's own flow (an email code) is what lets a remotely signed 8879 be transmitted."""
    import re as _re

    from tests.efile.conftest import ready_to_file_return, new_client

    client = await new_client(tp, firm, "Verified")
    rid = await ready_to_file_return(tp, firm, client)
    await remote_8879(tp, client, rid, firm.firm_id)
    assert_problem(await tp.http.post(f"/v1/returns/{rid}/efiling/transmit", headers=firm.headers["admin"],
                                      json={"jurisdictions": ["federal"]}), 422, "identity_not_verified")
    started = await tp.http.post(f"/v1/clients/{client['id']}/identity/verify", headers=firm.headers["admin"],
                                 json={"tier": 1, "methods": ["email"]})
    assert started.status_code == 201, started.text
    mail = await tp.wait_for_mail(client["email"])
    code = _re.search(r"code is (\d{6})", mail["text"]).group(1)
    verified = await tp.http.post(f"/v1/identity/{started.json()['data']['verification_id']}/email/verify",
                                  headers=firm.headers["admin"], json={"code": code})
    assert verified.status_code == 200 and verified.json()["data"]["client_identity_verification_status"] == "verified"
    await transmit(tp, firm, rid)
    await wait_for_status(tp, firm.headers["admin"], rid, "complete", timeout_s=30)
