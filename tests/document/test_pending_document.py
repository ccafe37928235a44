"""Upload-first batches (spec §6.10): pending uploads, the batch list, create-client."""

import uuid

from tests.document.forms import form_pdf
from tests.document.conftest import wait_processed


async def _pending(tp, headers, content, batch_id, filename="W2_2024.pdf"):
    return await tp.http.post("/v1/pending-documents", headers=headers, data={"batch_id": batch_id},
                              files={"file": (filename, content, "application/pdf")})


async def test_batch_becomes_client_return_and_processed_documents(tp, office):
    batch_id = f"batch-{uuid.uuid4().hex[:8]}"
    w2_pdf = form_pdf("W-2", "Acme Corporation", {"wages": "75,000.00"})
    w2 = await _pending(tp, office.admin, w2_pdf, batch_id)
    assert w2.status_code == 201, w2.text
    body = w2.json()["data"]
    assert body["document_type"] == "W-2" and body["tax_year"] == 2024 and body["upload_batch_id"] == batch_id
    assert body["s3_key"] == f"pending/{office.firm_id}/{body['id']}"
    div = await _pending(tp, office.admin, form_pdf("1099-DIV", "Fidelity", {"ordinary_dividends": "5.00"}),
                         batch_id, filename="div.pdf")
    assert div.status_code == 201

    batches = (await tp.http.get("/v1/pending-documents/batches", headers=office.admin)).json()["data"]
    mine = next(b for b in batches if b["batch_id"] == batch_id)
    assert mine["document_count"] == 2
    assert [d["document_type"] for d in mine["documents"]] == ["W-2", "1099-DIV"]

    # The name becomes the client's (a mail subject); the address must be mailable: refused, the batch kept.
    for bad in ({"last_name": "Smith\r\nBcc: x@example.com"}, {"email": "jürgen@example.com"}):
        refused = await tp.http.post(f"/v1/batch/{batch_id}/create-client", headers=office.admin, json={
            "first_name": "John", "last_name": "Smith", "tax_year": 2024, **bad})
        assert refused.status_code == 400 and [e["field"] for e in refused.json()["errors"]] == list(bad)
    created = await tp.http.post(f"/v1/batch/{batch_id}/create-client", headers=office.admin, json={
        "first_name": "John", "last_name": "Smith", "email": f"john-{uuid.uuid4().hex[:6]}@example.com",
        "phone": "+1-555-123-4567", "tax_year": 2024, "return_type": "individual"})
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert data["documents_assigned"] == 2
    assert data["client"]["first_name"] == "John" and data["client"]["account_number"].startswith("C-")
    assert data["return"]["status"] == "intake" and data["return"]["return_type"] == "individual"
    assert data["return"]["form"] == "1040"

    listed = (await tp.http.get("/v1/documents", headers=office.admin,
                                params={"return_id": data["return"]["id"]})).json()["data"]
    assert len(listed) == 2
    for document in listed:
        done = await wait_processed(tp, office.admin, document["id"])
        assert done["status"] == "processed" and done["client_id"] == data["client"]["id"]
    w2_document = next(d for d in listed if d["filename"] == "W2_2024.pdf")
    downloaded = await tp.http.get(f"/v1/documents/{w2_document['id']}/download", headers=office.admin)
    assert downloaded.content == w2_pdf

    again = await tp.http.post(f"/v1/batch/{batch_id}/create-client", headers=office.admin, json={
        "first_name": "John", "last_name": "Smith", "tax_year": 2024})
    assert again.status_code == 404  # the batch has been used up
    batches = (await tp.http.get("/v1/pending-documents/batches", headers=office.admin)).json()["data"]
    assert batch_id not in [b["batch_id"] for b in batches]


async def test_pending_uploads_are_staff_only_and_firm_scoped(tp, office):
    batch_id = f"batch-{uuid.uuid4().hex[:8]}"
    pdf = form_pdf("W-2", "Acme Corporation", {"wages": "1.00"})
    from tests.document.conftest import portal_headers

    client_headers = await portal_headers(tp, office.client["email"])
    assert (await _pending(tp, client_headers, pdf, batch_id)).status_code == 403
    assert (await _pending(tp, office.admin, pdf, "../etc")).status_code == 400
    assert (await _pending(tp, office.admin, b"MZ\x00\x00", batch_id, "x.pdf")).status_code == 400
    assert (await _pending(tp, office.admin, pdf, batch_id)).status_code == 201
    other_firm = await tp.new_firm()
    _, stranger = await tp.staff(other_firm, "admin")
    stolen = await tp.http.post(f"/v1/batch/{batch_id}/create-client", headers=stranger, json={
        "first_name": "Eve", "last_name": "Stranger", "tax_year": 2024})
    assert stolen.status_code == 404
    assert batch_id not in [b["batch_id"] for b in
                            (await tp.http.get("/v1/pending-documents/batches", headers=stranger)).json()["data"]]
