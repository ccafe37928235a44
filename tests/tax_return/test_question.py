"""Questions (spec §7): staff ask, the client answers, staff skip; the last answer moves the return on."""

from __future__ import annotations

import uuid

from tests.document.forms import form_pdf
from tests.tax_return.conftest import assert_problem, create_return, transition, wait_for_status


async def test_questions_end_to_end(tp, office):
    h = office.headers
    rid = (await create_return(tp, h["preparer"], office.client["id"]))["id"]
    base = f"/v1/returns/{rid}/questions"
    first = await tp.http.post(base, headers=h["preparer"], json={
        "question_text": "Please confirm your home office square footage",
        "context": "For home office deduction calculation", "priority": "medium"})
    assert first.status_code == 201, first.text
    q1 = first.json()["data"]
    assert q1["status"] == "pending" and q1["source"] == "preparer" and q1["answered_at"] is None
    q2 = (await tp.http.post(base, headers=h["reviewer"], json={"question_text": "Any new dependents?"})).json()["data"]
    # Bad input and wrong roles.
    assert_problem(await tp.http.post(base, headers=h["preparer"], json={}), 400)
    assert_problem(await tp.http.post(base, headers=h["preparer"], json={"question_text": "x", "priority": "now"}), 400)
    assert_problem(await tp.http.post(base, headers=h["client"], json={"question_text": "Hi"}), 403)
    assert_problem(await tp.http.post(f"{base}/{q1['id']}/answer", headers=h["preparer"],
                                      json={"answer_text": "150"}), 403)
    assert_problem(await tp.http.post(f"{base}/{q1['id']}/skip", headers=h["client"], json={"reason": "no"}), 403)

    await transition(tp, h["preparer"], rid, "mark_ready_for_prep")
    await transition(tp, h["preparer"], rid, "start_prep")
    await wait_for_status(tp, h["preparer"], rid, "in_prep")
    assert_problem(await tp.http.post(f"/v1/returns/{rid}/workflow/transition", headers=h["preparer"],
                                      json={"action": "submit_for_review"}), 422, "no_pending_questions")
    await transition(tp, h["preparer"], rid, "request_client_info")

    listed = (await tp.http.get(f"{base}?status=pending", headers=h["client"])).json()
    assert {q["id"] for q in listed["data"]} == {q1["id"], q2["id"]}
    answered = await tp.http.post(f"{base}/{q1['id']}/answer", headers=h["client"], json={
        "answer_text": "The home office is 150 square feet"})
    assert answered.status_code == 200 and answered.json()["data"]["status"] == "answered"
    assert_problem(await tp.http.post(f"{base}/{q1['id']}/answer", headers=h["client"],
                                      json={"answer_text": "again"}), 409)
    # One question still pending: the return waits on the client.
    detail = (await tp.http.get(f"/v1/returns/{rid}", headers=h["preparer"])).json()["data"]
    assert detail["status"] == "pending_client_response"
    skipped = await tp.http.post(f"{base}/{q2['id']}/skip", headers=h["preparer"],
                                 json={"reason": "Confirmed via phone call with client"})
    assert skipped.json()["data"]["status"] == "skipped"
    await wait_for_status(tp, h["preparer"], rid, "in_prep")
    got = (await tp.http.get(f"{base}/{q1['id']}", headers=h["preparer"])).json()["data"]
    assert got["answer_text"] == "The home office is 150 square feet" and got["answered_at"]
    history = (await tp.http.get(f"/v1/returns/{rid}/workflow/state", headers=h["preparer"])).json()["data"]
    assert history["history"][-1]["action"] == "client_responded"
    assert_problem(await tp.http.get(f"{base}/{rid}", headers=h["preparer"]), 404)


async def test_references_to_documents_must_name_the_clients_live_documents(tp, office):
    """An answer's attachments and a note's document: a random id (or another client's document) is a 422 and
    changes nothing; the client's own document is kept once however often it is named."""
    h = office.headers
    rid = (await create_return(tp, h["preparer"], office.client["id"], tax_year=2017))["id"]
    uploaded = await tp.http.post("/v1/documents", headers=h["preparer"],
                                  data={"client_id": office.client["id"], "tax_year": "2017"},
                                  files={"file": ("W2.pdf", form_pdf("W-2", "Acme", {}), "application/pdf")})
    assert uploaded.status_code == 201, uploaded.text
    own, stranger = uploaded.json()["data"]["id"], str(uuid.uuid4())
    question = (await tp.http.post(f"/v1/returns/{rid}/questions", headers=h["preparer"],
                                   json={"question_text": "Your W-2?"})).json()["data"]
    url = f"/v1/returns/{rid}/questions/{question['id']}/answer"
    refused = assert_problem(await tp.http.post(url, headers=h["client"], json={
        "answer_text": "Attached", "attachments": [own, stranger]}), 422)
    assert refused["errors"] == [{"field": "attachments", "code": "unknown_document",
                                  "message": f"no document {stranger} of this client"}]
    answered = await tp.http.post(url, headers=h["client"], json={"answer_text": "Attached",
                                                                  "attachments": [own, own]})
    assert answered.status_code == 200 and answered.json()["data"]["answer_attachments"] == [own]

    assert_problem(await tp.http.patch(f"/v1/returns/{rid}", headers=h["preparer"], json={
        "preparer_notes": [{"note_text": "See the W-2", "document_id": stranger}]}), 422)
    noted = await tp.http.patch(f"/v1/returns/{rid}", headers=h["preparer"], json={
        "preparer_notes": [{"note_text": "See the W-2", "document_id": own}]})
    assert noted.status_code == 200 and noted.json()["data"]["preparer_notes"][0]["document_id"] == own
