"""Engagement letters through HTTP, the signature sandbox and the engagement's workflow: guards, the signed and
sealed PDF (pyHanko verifies it, and fails once a byte changes), decline, and the firm's intake setting."""

from __future__ import annotations

import io

from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader

from tests.esign.conftest import complete_signing, deliver_signature_events, signing_link
from tests.support import domain_events

LETTER = {"tax_year": 2024, "engagement_type": "tax_prep", "services": ["1040", "schedule_c"],
          "fee_structure": {"type": "fixed", "base_fee": 400.00, "additional_forms": 50.00}}


async def create(tp, office, **overrides) -> dict:
    response = await tp.http.post("/v1/engagements", json={"client_id": office.client["id"], **LETTER, **overrides},
                                  headers=office.admin)
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def seal_status(tp, pdf: bytes):
    """pyHanko's validator over the PDF's one signature, trusting the firm's (development) certificate."""
    certificate = load_cert_from_pemder(str(tp.settings.data_dir / "seal" / "seal-cert.pem"))
    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    return await async_validate_pdf_signature(signature, ValidationContext(trust_roots=[certificate]))


async def test_draft_guards(tp, office):
    engagement = await create(tp, office)
    assert engagement["status"] == "draft" and engagement["fee_structure"]["base_fee"] == 400.0
    edited = await tp.http.patch(f"/v1/engagements/{engagement['id']}", headers=office.admin,
                                 json={"services": ["1040", "schedule_c", "schedule_e"]})
    assert edited.status_code == 200 and edited.json()["data"]["services"][-1] == "schedule_e"
    listed = await tp.http.get("/v1/engagements", params={"client_id": office.client["id"], "status": "draft"},
                               headers=office.admin)
    assert engagement["id"] in [e["id"] for e in listed.json()["data"]]
    assert (await tp.http.get(f"/v1/engagements/{engagement['id']}/document",
                              headers=office.admin)).status_code == 404
    bad = await tp.http.post("/v1/engagements", headers=office.admin,
                             json={"client_id": office.client["id"], **LETTER, "services": []})
    assert bad.status_code == 400
    deleted = await tp.http.delete(f"/v1/engagements/{engagement['id']}", headers=office.admin)
    assert deleted.status_code == 204
    assert (await tp.http.get(f"/v1/engagements/{engagement['id']}", headers=office.admin)).status_code == 404


async def test_send_sign_download_sealed_pdf(tp, office):
    engagement = await create(tp, office)
    sent = await tp.http.post(f"/v1/engagements/{engagement['id']}/send", headers=office.admin)
    assert sent.status_code == 200, sent.text
    assert sent.json()["data"]["status"] == "pending_signature"
    # Sent: no edit, no delete.
    edit = await tp.http.patch(f"/v1/engagements/{engagement['id']}", headers=office.admin, json={"services": ["x"]})
    assert edit.status_code == 422 and edit.json()["type"].endswith("/engagement_not_draft")
    assert (await tp.http.delete(f"/v1/engagements/{engagement['id']}", headers=office.admin)).status_code == 422

    mails = [m for m in await tp.mail_to(office.client["email"]) if "sign" in m["subject"].lower()]
    link = await signing_link(tp, office.client["email"], len(mails))
    assert (await complete_signing(link)).status_code == 200
    assert [r.json()["outcome"] for _, r in await deliver_signature_events(tp)] == ["applied"]
    handle = tp.temporal.get_workflow_handle(f"engagement:{engagement['id']}")
    assert await handle.result() == "signed"

    got = (await tp.http.get(f"/v1/engagements/{engagement['id']}", headers=office.admin)).json()["data"]
    assert got["status"] == "signed" and got["document_url"] == f"/v1/engagements/{engagement['id']}/document"
    assert await domain_events(tp, engagement["id"]) == [("engagement.signed", {"status": "signed"})]
    download = await tp.http.get(got["document_url"], headers=office.admin)
    assert download.status_code == 200 and download.headers["content-type"] == "application/pdf"
    pdf = download.content
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Engagement Letter" in text and "Certificate of Completion" in text and "Dana Q. Taxpayer" in text
    assert "127.0.0.1" in text and "Consented to electronic records" in text
    status = await seal_status(tp, pdf)
    assert status.intact and status.valid and status.bottom_line

    tampered = bytearray(pdf)
    # One byte of the letter's first page (the original revision, well before the signature's own bytes).
    tampered[len(pdf) // 4] ^= 0x01
    assert not (await seal_status(tp, bytes(tampered))).intact
    edit = await tp.http.patch(f"/v1/engagements/{engagement['id']}", headers=office.admin, json={"services": ["x"]})
    assert edit.status_code == 422


async def test_decline(tp, office):
    engagement = await create(tp, office)
    assert (await tp.http.post(f"/v1/engagements/{engagement['id']}/send", headers=office.admin)).status_code == 200
    mails = [m for m in await tp.mail_to(office.client["email"]) if "sign" in m["subject"].lower()]
    declined = await complete_signing(await signing_link(tp, office.client["email"], len(mails)), action="decline",
                                      reason="The fee is too high")
    assert declined.status_code == 200 and "declined" in declined.text
    results = await deliver_signature_events(tp)
    assert [(d["event"]["type"], r.json()["outcome"]) for d, r in results] == [("signature.declined", "applied")]
    assert await tp.temporal.get_workflow_handle(f"engagement:{engagement['id']}").result() == "declined"
    got = (await tp.http.get(f"/v1/engagements/{engagement['id']}", headers=office.admin)).json()["data"]
    assert got["status"] == "declined" and got["document_url"] is None
    # The callback again, for a request already final: recorded as refused, nothing changes.
    delivery, _ = results[0]
    forged_again = await tp.http.post("/v1/webhooks/google", content=delivery["body"].encode(),
                                      headers=delivery["headers"])
    assert forged_again.json()["outcome"] == "duplicate"


async def test_return_waits_in_intake_for_a_signed_engagement(tp, office):
    preparer_id, preparer = await tp.staff_session(office.firm_id, "preparer")
    config = await tp.http.patch("/v1/admin/config", headers=office.admin,
                                 json={"engagement_required_before_prep": True})
    assert config.status_code == 200 and config.json()["data"]["engagement_required_before_prep"] is True
    created = await tp.http.post("/v1/returns", headers=office.admin, json={
        "client_id": office.client["id"], "tax_year": 2023, "return_type": "1040",
        "assigned_preparer_id": str(preparer_id)})
    assert created.status_code == 201, created.text
    return_id = created.json()["data"]["id"]
    held = await tp.http.post(f"/v1/returns/{return_id}/workflow/transition", headers=preparer,
                              json={"action": "mark_ready_for_prep"})
    assert held.status_code == 422 and held.json()["type"].endswith("/engagement_not_signed"), held.text

    engagement = await create(tp, office, tax_year=2023)
    assert (await tp.http.post(f"/v1/engagements/{engagement['id']}/send", headers=office.admin)).status_code == 200
    mails = [m for m in await tp.mail_to(office.client["email"]) if "sign" in m["subject"].lower()]
    await complete_signing(await signing_link(tp, office.client["email"], len(mails)))
    await deliver_signature_events(tp)
    moved = await tp.http.post(f"/v1/returns/{return_id}/workflow/transition", headers=preparer,
                               json={"action": "mark_ready_for_prep"})
    assert moved.status_code == 200, moved.text
    await tp.http.patch("/v1/admin/config", headers=office.admin, json={"engagement_required_before_prep": False})
