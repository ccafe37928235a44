"""Form 8879 through the e-signature provider: sent once the return is approved (the return takes
send_for_signature), signed on the sandbox's page (signature_received), kept as the return's FORM_8879 document
with the evidence e-filing's transmit guard reads (domain.efile.service.signed_form_8879)."""

from __future__ import annotations

import uuid

from domain.document.models import Document
from domain.efile.service import signed_form_8879
from tests.esign.conftest import complete_signing, deliver_signature_events, signing_link
from tests.tax_return.conftest import create_return, wait_for_status, walk_to_approved


async def approved_return(tp, office) -> str:
    h = office.headers
    rid = (await create_return(tp, h["preparer"], office.client["id"], tax_year=2021,
                               filing_status="single"))["id"]
    await walk_to_approved(tp, h, rid)
    return rid


async def test_form_8879_signed_remotely_moves_the_return_to_ready_to_file(tp, office):
    h = office.headers
    rid = await approved_return(tp, office)
    early = await tp.http.post(f"/v1/returns/{rid}/form-8879/send", headers=h["preparer"])
    assert early.status_code == 403
    sent = await tp.http.post(f"/v1/returns/{rid}/form-8879/send", headers=h["ea_cpa"])
    assert sent.status_code == 200, sent.text
    await wait_for_status(tp, h["preparer"], rid, "pending_signature")
    async with tp.state.sessionmaker() as session:
        assert await signed_form_8879(session, uuid.UUID(rid)) is None  # sent, not signed

    mails = [m for m in await tp.mail_to(office.client["email"]) if "sign" in m["subject"].lower()]
    assert (await complete_signing(await signing_link(tp, office.client["email"], len(mails)),
                                   typed_name=office.client["name"])).status_code == 200
    assert [r.json()["outcome"] for _, r in await deliver_signature_events(tp)] == ["applied"]
    await wait_for_status(tp, h["preparer"], rid, "ready_to_file")
    assert await tp.temporal.get_workflow_handle(f"form-8879:{rid}").result() == "signed"

    async with tp.state.sessionmaker() as session:
        on_file = await signed_form_8879(session, uuid.UUID(rid))
        document = await session.get(Document, on_file.document_id)
    assert on_file.signed_remotely
    assert document.document_type == "FORM_8879" and str(document.return_id) == rid
    kept = await tp.http.delete(f"/v1/documents/{document.id}", headers=h["admin"])
    assert kept.status_code == 422 and kept.json()["type"].endswith("/signed_record")
    got = (await tp.http.get(f"/v1/returns/{rid}/form-8879", headers=h["preparer"])).json()["data"]
    assert got["status"] == "completed" and got["evidence"]["typed_name"] == office.client["name"]
    assert got["evidence"]["ip_address"] == "127.0.0.1"
    assert got["evidence"]["authentication"]["login_id"] == office.client["email"]
    log = (await tp.http.get(f"/v1/clients/{office.client['id']}/disclosures", headers=h["admin"],
                             params={"purpose": "return_signature"})).json()["data"]
    assert [(r["allowed"], r["basis"], r["regulatory_exception"]) for r in log if r["entity_id"] == rid] == [
        (True, "exception", "esignature_of_return")]
