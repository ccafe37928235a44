"""Uploads, downloads and the documents API through the real app, S3 store, Temporal and Postgres."""

import asyncio
import hashlib
import io
import uuid
import zipfile

import pytest
from sqlalchemy import func, select

from domain.document.models import Document
from tests.document.conftest import new_return, portal_headers, upload, wait_processed, workflow_result
from tests.document.forms import form_pdf, scanned_pdf
from tests.support import api_without_temporal, deliver, outbox_entries

W2_VALUES = {"wages": "75,000.00", "federal_withholding": "12,500.00", "social_security_wages": "75,000.00",
             "social_security_withholding": "4,650.00", "medicare_wages": "75,000.00",
             "medicare_withholding": "1,087.50"}


async def _object_count(tp) -> int:
    listed = tp.state.storage.client.list_objects_v2(Bucket=tp.state.storage.bucket, Prefix="documents/")
    return listed.get("KeyCount", 0)


async def test_client_uploads_w2_sees_wages_and_downloads_same_bytes(tp, office):
    pdf = form_pdf("W-2", "Acme Corporation", W2_VALUES)
    client_headers = await portal_headers(tp, office.client["email"])
    response = await upload(tp, client_headers, pdf, client_id=office.client["id"], tax_year=2024,
                            return_id=office.return_id)
    assert response.status_code == 201, response.text
    created = response.json()["data"]
    assert created["status"] == "uploaded" and created["sha256"] == hashlib.sha256(pdf).hexdigest()

    document = await wait_processed(tp, client_headers, created["id"])
    assert document["document_type"] == "W-2" and document["status"] == "processed"
    assert document["mime_type"] == "application/pdf" and document["source"] == "client_upload"
    fields = {f["field_name"]: f for f in document["extraction"]["fields"]}
    assert fields["wages"]["value"] == "75000.00" and not fields["wages"]["needs_review"]
    assert fields["federal_withholding"]["value"] == "12500.00"
    assert fields["employer_name"]["value"] == "Acme Corporation"

    checklist = await tp.http.get(f"/v1/returns/{office.return_id}/documents/checklist", headers=client_headers)
    assert checklist.status_code == 200, checklist.text
    expected = checklist.json()["data"]["expected"]
    assert expected == [{"document_type": "W-2", "description": "W-2 from Acme Corporation",
                         "status": "received", "document_id": created["id"]}]

    download = await tp.http.get(f"/v1/documents/{created['id']}/download", headers=client_headers)
    assert download.status_code == 200
    assert download.content == pdf
    assert download.headers["content-disposition"].startswith('attachment; filename="W2_Acme_2024.pdf"')
    head = tp.state.storage.client.head_object(Bucket=tp.state.storage.bucket,
                                               Key=f"documents/{office.firm_id}/{office.client['id']}/{created['id']}")
    assert head["ServerSideEncryption"] == "AES256"


async def test_low_confidence_field_needs_review_and_correction_is_kept(tp, office):
    pdf = form_pdf("W-2", "Acme Corporation", W2_VALUES, wrapped=frozenset({"federal_withholding"}))
    created = (await upload(tp, office.admin, pdf, client_id=office.client["id"], tax_year=2024)).json()["data"]
    document = await wait_processed(tp, office.admin, created["id"])
    assert document["status"] == "review_required"
    assert "federal_withholding" in document["review_reason"]
    field = next(f for f in document["extraction"]["fields"] if f["field_name"] == "federal_withholding")
    assert field["needs_review"] and field["confidence"] < 0.9

    corrected = await tp.http.patch(f"/v1/documents/{created['id']}/extraction/fields/{field['id']}",
                                    headers=office.admin, json={"value": "12750.00", "verified": True})
    assert corrected.status_code == 200, corrected.text
    body = corrected.json()["data"]
    assert body["value"] == "12750.00" and body["original_value"] == "12500.00"
    assert body["verified"] and not body["needs_review"] and body["corrected_by"] and body["corrected_at"]


async def test_each_supported_form_is_extracted(tp, office):
    cases = {
        "1099-INT": ("First National Bank", {"interest_income": "1,234.56", "federal_withholding": "0.00"},
                     {"interest_income": "1234.56", "payer_name": "First National Bank"}),
        "1099-DIV": ("Fidelity Investments", {"ordinary_dividends": "2,500.00", "qualified_dividends": "2,000.00"},
                     {"ordinary_dividends": "2500.00", "qualified_dividends": "2000.00"}),
        "1099-NEC": ("Globex LLC", {"nonemployee_compensation": "18,000.00", "federal_withholding": "0.00"},
                     {"nonemployee_compensation": "18000.00", "payer_name": "Globex LLC"}),
        "1098": ("Wells Mortgage", {"mortgage_interest": "9,876.54", "points_paid": "1,200.00"},
                 {"mortgage_interest": "9876.54", "lender_name": "Wells Mortgage"}),
    }
    ids = {}
    for form, (issuer, values, _) in cases.items():
        response = await upload(tp, office.admin, form_pdf(form, issuer, values), filename="statement.pdf",
                                client_id=office.client["id"], tax_year=2024)
        assert response.status_code == 201, response.text
        ids[form] = response.json()["data"]["id"]
    for form, (_, _, expected) in cases.items():
        document = await wait_processed(tp, office.admin, ids[form])
        assert document["document_type"] == form, document
        assert document["status"] == "processed", document
        values = {f["field_name"]: f["value"] for f in document["extraction"]["fields"]}
        assert {k: values.get(k) for k in expected} == expected


async def test_scan_without_text_layer_goes_to_review_honestly(tp, office):
    created = (await upload(tp, office.admin, scanned_pdf(), filename="W2 scan.pdf",
                            client_id=office.client["id"], tax_year=2024)).json()["data"]
    document = await wait_processed(tp, office.admin, created["id"])
    assert document["status"] == "review_required" and "no text layer" in document["review_reason"]
    assert document["extraction"] is None and document["document_type"] == "W-2"  # from the file name


async def test_bad_files_are_refused_and_nothing_is_stored(tp, office):
    before_objects = await _object_count(tp)
    pdf = form_pdf("W-2", "Acme Corporation", W2_VALUES)
    cases = [
        (b"MZ\x90\x00" + b"\x00" * 100, "invoice.pdf", "executable"),
        (b"\x7fELF\x02\x01" + b"\x00" * 100, "w2.pdf", "executable"),
        (b"#!/bin/sh\nrm -rf /\n", "data.csv", "executable"),
        (pdf[: len(pdf) // 2], "w2.pdf", "truncated_pdf"),
        (b"", "empty.pdf", "empty_file"),
        (pdf, "../../etc/passwd.pdf", "invalid_filename"),
        (pdf, "C:\\Users\\me\\w2.pdf", "invalid_filename"),
        (pdf, "invoice\u202efdp.exe.pdf", "invalid_filename"),  # a bidi override: reads as another name
        (pdf, "w2\u200b.pdf", "invalid_filename"),              # a zero-width space
        (b"PK\x03\x04not really a zip", "w2.docx", "unsupported_type"),
    ]
    for content, filename, code in cases:
        response = await upload(tp, office.admin, content, filename=filename, client_id=office.client["id"],
                                tax_year=2024)
        assert response.status_code == 400, (filename, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["code"] == code, (filename, response.json())
    async with tp.state.sessionmaker() as session:
        count = (await session.execute(select(func.count()).select_from(Document).where(
            Document.firm_id == office.firm_id, Document.filename.in_([c[1] for c in cases])))).scalar_one()
    assert count == 0
    assert await _object_count(tp) == before_objects


async def test_a_boundary_longer_than_the_parser_takes_is_a_400(tp, office):
    """python-multipart refuses a boundary over 256 characters in its constructor (RFC 2046 allows 70)."""
    before_objects = await _object_count(tp)
    boundary = "B" * 300
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\n{office.client['id']}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"tax_year\"\r\n\r\n2024\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"long-boundary.pdf\"\r\n\r\n"
            ).encode() + form_pdf("W-2", "Acme Corporation", W2_VALUES) + f"\r\n--{boundary}--\r\n".encode()
    for path in ("/v1/documents", "/v1/pending-documents"):
        response = await tp.http.post(path, content=body, headers={
            **office.admin, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert response.status_code == 400, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    async with tp.state.sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(Document).where(
            Document.filename == "long-boundary.pdf"))).scalar_one() == 0
    assert await _object_count(tp) == before_objects


async def test_office_formats_and_csv_are_recognised_by_their_bytes(tp, office):
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    csv_bytes = "date,description,amount\n2024-01-02,Deposit,100.00\n2024-01-03,Fee,-2.50\n".encode()
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 32
    for content, filename, mime in [(docx.getvalue(), "letter.bin", "wordprocessingml"),
                                    (png, "photo.jpg", "image/png"), (csv_bytes, "bank.txt", "text/csv"),
                                    (heic, "IMG_0001.HEIC", "image/heic")]:
        response = await upload(tp, office.admin, content, filename=filename, client_id=office.client["id"],
                                tax_year=2024)
        assert response.status_code == 201, response.text
        assert mime in response.json()["data"]["mime_type"]


async def test_one_byte_over_the_cap_is_refused_while_streaming(tp, office, small_cap):
    cap = small_cap
    before_objects = await _object_count(tp)
    def pdf_of(size: int) -> bytes:
        return b"%PDF-1.4\n" + b"0" * (size - 9 - 6) + b"%%EOF\n"

    body = pdf_of(cap + 1)
    response = await upload(tp, office.admin, body, filename="big.pdf", client_id=office.client["id"],
                            tax_year=2024)
    assert response.status_code == 413, response.text
    assert await _object_count(tp) == before_objects
    exactly = pdf_of(cap)
    ok = await upload(tp, office.admin, exactly, filename="big.pdf", client_id=office.client["id"],
                      tax_year=2024)
    assert ok.status_code == 201, ok.text
    assert ok.json()["data"]["file_size"] == cap


async def test_other_firms_and_other_clients_see_404(tp, office):
    pdf = form_pdf("W-2", "Acme Corporation", W2_VALUES)
    other_firm = await tp.new_firm()
    _, stranger = await tp.staff(other_firm, "admin")
    response = await upload(tp, stranger, pdf, client_id=office.client["id"], tax_year=2024)
    assert response.status_code == 404
    created = (await upload(tp, office.admin, pdf, client_id=office.client["id"], tax_year=2024)).json()["data"]
    for path in (f"/v1/documents/{created['id']}", f"/v1/documents/{created['id']}/download",
                 f"/v1/returns/{office.return_id}/documents/checklist"):
        assert (await tp.http.get(path, headers=stranger)).status_code == 404, path
    listed = await tp.http.get("/v1/documents", headers=stranger)
    assert listed.json()["pagination"]["total_count"] == 0

    _, preparer = await tp.staff(office.firm_id, "preparer")
    assert (await tp.http.get(f"/v1/documents/{created['id']}", headers=preparer)).status_code == 404
    other_client = await tp.new_client(office.admin)
    other_headers = await portal_headers(tp, other_client["email"])
    assert (await tp.http.get(f"/v1/documents/{created['id']}", headers=other_headers)).status_code == 404
    # A return of another client cannot be named with this client.
    other_return = await new_return(tp, office.firm_id, other_client["id"])
    wrong = await upload(tp, office.admin, pdf, client_id=office.client["id"], tax_year=2024,
                         return_id=other_return)
    assert wrong.status_code == 404
    assert (await upload(tp, {}, pdf, client_id=office.client["id"], tax_year=2024)).status_code == 401


async def test_list_patch_delete_and_filed_return(tp, office):
    pdf = form_pdf("1099-DIV", "Fidelity Investments", {"ordinary_dividends": "10.00"})
    filed_return = await new_return(tp, office.firm_id, office.client["id"], tax_year=2023, status="filed")
    created = (await upload(tp, office.admin, pdf, client_id=office.client["id"], tax_year=2023,
                            return_id=filed_return)).json()["data"]
    await wait_processed(tp, office.admin, created["id"])
    listed = await tp.http.get("/v1/documents", headers=office.admin,
                               params={"client_id": office.client["id"], "document_type": "1099_div",
                                       "tax_year": 2023})
    assert listed.status_code == 200, listed.text
    assert [d["id"] for d in listed.json()["data"]] == [created["id"]]
    refused = await tp.http.delete(f"/v1/documents/{created['id']}", headers=office.admin)
    assert refused.status_code == 422 and "filed" in refused.json()["detail"]

    patched = await tp.http.patch(f"/v1/documents/{created['id']}", headers=office.admin,
                                  json={"document_type": "BROKERAGE_STATEMENT"})
    assert patched.status_code == 200 and patched.json()["data"]["document_type"] == "BROKERAGE_STATEMENT"
    for bad_type in ("W9", "", "   "):  # an empty type is not a way to clear the classification
        bad = await tp.http.patch(f"/v1/documents/{created['id']}", headers=office.admin,
                                  json={"document_type": bad_type})
        assert bad.status_code == 400, bad_type

    loose = (await upload(tp, office.admin, pdf, client_id=office.client["id"], tax_year=2024)).json()["data"]
    await wait_processed(tp, office.admin, loose["id"])
    _, preparer = await tp.staff(office.firm_id, "preparer")
    assert (await tp.http.delete(f"/v1/documents/{loose['id']}", headers=preparer)).status_code == 403
    assert (await tp.http.delete(f"/v1/documents/{loose['id']}", headers=office.admin)).status_code == 204
    assert (await tp.http.get(f"/v1/documents/{loose['id']}", headers=office.admin)).status_code == 404


async def test_extraction_delete_and_rerun(tp, office):
    pdf = form_pdf("1099-INT", "First National Bank", {"interest_income": "1,234.56"})
    created = (await upload(tp, office.admin, pdf, client_id=office.client["id"], tax_year=2024)).json()["data"]
    await workflow_result(tp, created["id"])
    again = await tp.http.post(f"/v1/documents/{created['id']}/extraction", headers=office.admin)
    assert again.status_code == 409  # an extraction exists: delete it first
    assert (await tp.http.delete(f"/v1/documents/{created['id']}/extraction",
                                 headers=office.admin)).status_code == 204
    after_delete = (await tp.http.get(f"/v1/documents/{created['id']}", headers=office.admin)).json()["data"]
    assert after_delete["extraction"] is None
    rerun = await tp.http.post(f"/v1/documents/{created['id']}/extraction", headers=office.admin)
    assert rerun.status_code == 202, rerun.text
    outcome = await workflow_result(tp, created["id"])
    assert outcome.status == "processed"
    document = (await tp.http.get(f"/v1/documents/{created['id']}", headers=office.admin)).json()["data"]
    assert {f["field_name"]: f["value"] for f in document["extraction"]["fields"]}["interest_income"] == "1234.56"


async def test_a_document_uploaded_while_temporal_is_unreachable_is_processed_by_the_relay(tp, office):
    """Its row and object are kept (201) with the message that starts its processing: the outbox relay (here:
    its delivery of the entry) starts it once Temporal answers. POST …/extraction meanwhile is a 503: whether
    processing runs cannot be told without Temporal."""
    pdf = form_pdf("1099-INT", "First National Bank", {"interest_income": "10.00"})
    async with api_without_temporal(tp) as cut_off:
        response = await cut_off.post("/v1/documents", headers=office.admin,
                                      data={"client_id": office.client["id"], "tax_year": "2024"},
                                      files={"file": ("1099_int.pdf", pdf, "application/octet-stream")})
        assert response.status_code == 201, response.text
        document_id = response.json()["data"]["id"]
        # Whether processing runs cannot be told without Temporal: a 503, nothing changed.
        assert (await cut_off.post(f"/v1/documents/{document_id}/extraction", headers=office.admin)
                ).status_code == 503
    [entry] = await outbox_entries(tp, document_id)
    assert await deliver(tp, entry.id)
    assert (await workflow_result(tp, document_id)).status == "processed"


async def test_an_object_whose_row_fails_is_deleted_again(tp):
    """The store-then-record step with a row that cannot be written: the object must not stay behind."""
    import tempfile

    from botocore.exceptions import ClientError

    from api.uploads import ReceivedUpload
    from api.v1.document import store_object_then_row

    key = f"documents/orphan-test/{uuid.uuid4()}"
    spool = tempfile.SpooledTemporaryFile()
    spool.write(b"%PDF-1.4\n%%EOF\n")
    upload = ReceivedUpload(spool=spool, size=15, has_file=True)

    async def failing_insert():
        raise RuntimeError("the insert failed")

    with pytest.raises(RuntimeError):
        await store_object_then_row(tp.state, key, upload, "application/pdf", failing_insert)
    with pytest.raises(ClientError):
        tp.state.storage.client.head_object(Bucket=tp.state.storage.bucket, Key=key)


async def test_extracted_values_are_frozen_once_the_return_is_approved(tp, office):
    """Issue 13, medium 9: what the reviewer approved includes the documents' extracted values."""
    from domain.tax_return.models import TaxReturn

    return_id = await new_return(tp, office.firm_id, office.client["id"], tax_year=2023, status="in_prep")
    created = (await upload(tp, office.admin, form_pdf("W-2", "Acme Corporation", W2_VALUES),
                            client_id=office.client["id"], tax_year=2023, return_id=return_id)).json()["data"]
    document = await wait_processed(tp, office.admin, created["id"])
    field = next(f for f in document["extraction"]["fields"] if f["field_name"] == "wages")
    url = f"/v1/documents/{created['id']}/extraction/fields/{field['id']}"

    async def set_status(status: str) -> None:  # as the return's workflow would
        async with tp.state.sessionmaker.begin() as session:
            (await session.get(TaxReturn, return_id)).status = status

    for status in ("approved", "ready_to_file", "filed"):
        await set_status(status)
        for body in ({"value": "80000.00"}, {"verified": True}):
            response = await tp.http.patch(url, headers=office.admin, json=body)
            assert response.status_code == 422, response.text
            assert response.json()["type"].endswith("/return_approved") and status in response.json()["detail"]
        # Deleting the extraction (to re-run it) would replace the approved values just the same.
        for method in ("DELETE", "POST"):
            for _ in range(100):  # POST answers 409 while the processing workflow is still closing: wait it out
                response = await tp.http.request(method, f"/v1/documents/{created['id']}/extraction",
                                                 headers=office.admin)
                if response.status_code != 409:
                    break
                await asyncio.sleep(0.1)
            assert response.status_code == 422, (method, response.text)
            assert response.json()["type"].endswith("/return_approved")
    unchanged = await wait_processed(tp, office.admin, created["id"])
    wages = next(f for f in unchanged["extraction"]["fields"] if f["field_name"] == "wages")
    assert wages["value"] == "75000.00" and wages["corrected_at"] is None and not wages["verified"]
    # Back in preparation (restart_after_rejection), the values are the preparer's to correct again.
    await set_status("in_prep")
    corrected = await tp.http.patch(url, headers=office.admin, json={"value": "80000.00"})
    assert corrected.status_code == 200, corrected.text
